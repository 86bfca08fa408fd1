/* DutyDesk wall: applies incremental patches from /wall/events (Server-Sent Events),
   ticks clocks locally, optional beep for a new P1/P2, keyboard shortcuts for incident actions. */
(function () {
  "use strict";
  var root = document.getElementById("wall");
  if (!root) return;
  var i18n = JSON.parse(document.getElementById("wall-i18n").textContent);
  var actions = JSON.parse(root.dataset.actions || "{}");
  var live = document.querySelector(".wall-live");
  var lostBanner = document.querySelector(".wall-feed-lost");
  var lastMessageAt = Date.now();
  var selected = null;

  // ------------------------------------------------------------------ patches
  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  function applySection(name, patch, full) {
    var box = root.querySelector('[data-section="' + name + '"]');
    if (!box) { if (full) location.reload(); return; }  // a panel appeared: take the new layout
    var existing = {};
    Array.prototype.forEach.call(box.children, function (el) { existing[el.dataset.key] = el; });
    var nodes = patch.order.map(function (key) {
      if (Object.prototype.hasOwnProperty.call(patch.html, key)) {
        var el = fragment(patch.html[key]);
        if (!full && el) { el.classList.add("changed"); noticeNew(el, existing[key]); }
        return el;
      }
      return existing[key];
    }).filter(Boolean);
    box.replaceChildren.apply(box, nodes);
  }

  function applyPatch(msg) {
    Object.keys(msg.sections).forEach(function (name) {
      applySection(name, msg.sections[name], msg.full);
    });
    root.dataset.version = msg.v;
    if (selected && !document.body.contains(selected)) {
      selected = root.querySelector('[data-incident="' + selected.dataset.incident + '"]');
      if (selected) selected.classList.add("selected");
    }
    tick();
  }

  // ------------------------------------------------------------------ stream
  function connect() {
    var url = root.dataset.events + (root.dataset.version ? "?v=" + encodeURIComponent(root.dataset.version) : "");
    var source = new EventSource(url);
    source.addEventListener("patch", function (e) {
      lastMessageAt = Date.now();
      try { applyPatch(JSON.parse(e.data)); } catch (err) { console.error("wall patch failed", err); }
    });
    source.onmessage = function () { lastMessageAt = Date.now(); };
    source.onopen = function () { lastMessageAt = Date.now(); setLost(false); };
    source.onerror = function () {
      setLost(true);
      if (source.readyState === EventSource.CLOSED) {
        // e.g. the session ended (kiosk link revoked): a reload shows the real answer.
        setTimeout(function () { location.reload(); }, 10000);
      }
    };
  }

  function setLost(lost) {
    if (lostBanner) lostBanner.hidden = !lost;
    if (live) live.classList.toggle("lost", lost);
  }

  // Keep-alive comments arrive every ~15 s but are invisible to EventSource handlers; an open
  // connection (readyState OPEN) is the signal instead, checked together with message age.
  setInterval(function () {
    if (Date.now() - lastMessageAt > 60000 && lostBanner && !lostBanner.hidden) location.reload();
  }, 5000);

  // ------------------------------------------------------------------ clocks
  function fmt(seconds) {
    var neg = seconds < 0, s = Math.abs(seconds), m = Math.floor(s / 60);
    var text = m < 60 ? m + " " + i18n.min
      : Math.floor(m / 60) + " " + i18n.h + " " + String(m % 60).padStart(2, "0") + " " + i18n.min;
    return (neg ? "-" : "") + text;
  }

  function tick() {
    var now = Date.now();
    var clock = root.querySelector(".wall-clock");
    if (clock) {
      var d = new Date();
      clock.textContent = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
    }
    root.querySelectorAll(".incident[data-opened]").forEach(function (el) {
      var age = el.querySelector(".age");
      if (age) age.textContent = fmt((now - Date.parse(el.dataset.opened)) / 1000);
    });
    root.querySelectorAll(".sla[data-due]").forEach(function (el) {
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      var state = left <= 0 ? "breached"
        : (el.dataset.warnFrom && now < Date.parse(el.dataset.warnFrom)) ? "ok" : "warning";
      el.className = "sla sla-" + state;
      el.dataset.state = state;
      el.querySelector(".left").textContent = fmt(left);
      el.querySelector(".sword").textContent = state === "breached" ? i18n.breached : state === "warning" ? i18n.soon : "";
    });
  }
  setInterval(tick, 1000);

  // ------------------------------------------------------------------ sound
  var soundButton = document.querySelector(".wall-sound");
  var soundOn = localStorage.getItem("dutydesk.wall.sound") === "on";
  var audio = null;
  function showSound() {
    soundButton.textContent = soundOn ? i18n.sound_on : i18n.sound_off;
    soundButton.setAttribute("aria-pressed", soundOn ? "true" : "false");
  }
  if (soundButton) {
    soundButton.hidden = false;
    showSound();
    soundButton.addEventListener("click", function () {
      soundOn = !soundOn;
      localStorage.setItem("dutydesk.wall.sound", soundOn ? "on" : "off");
      showSound();
      if (soundOn) beep();
    });
  }
  function beep() {
    if (!soundOn) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.3].forEach(function (offset) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.25, audio.currentTime + offset);
        gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + offset + 0.2);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(audio.currentTime + offset); osc.stop(audio.currentTime + offset + 0.22);
      });
    } catch (err) { /* no audio device: the wall still shows it */ }
  }
  function noticeNew(el, before) {
    if (!before && el.dataset && (el.dataset.priority === "P1" || el.dataset.priority === "P2")) beep();
  }

  // ------------------------------------------------------------------ keyboard
  if (root.dataset.canAct === "yes") {
    var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
    var result = document.querySelector(".wall-action-result");
    var list = function () { return Array.prototype.slice.call(root.querySelectorAll(".incident[data-incident]")); };
    var select = function (el) {
      if (selected) selected.classList.remove("selected");
      selected = el;
      if (el) { el.classList.add("selected"); el.focus({ preventScroll: false }); }
    };
    var move = function (step) {
      var items = list(); if (!items.length) return;
      var at = selected ? items.findIndex(function (x) { return x.dataset.incident === selected.dataset.incident; }) : -1;
      select(items[Math.min(Math.max(at + step, 0), items.length - 1)]);
    };
    var act = function (action, body) {
      if (!selected || !actions[action]) return;
      var url = actions[action].replace("{id}", selected.dataset.incident);
      fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body || {})
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (result) result.textContent = r.ok ? i18n.done : i18n.failed + ": " + (j.error || j.message || r.status);
        });
      });
    };
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || /INPUT|TEXTAREA|SELECT/.test(e.target.tagName)) return;
      var text;
      switch (e.key) {
        case "j": move(1); break;
        case "k": move(-1); break;
        case "a": act("ack"); break;
        case "n": text = prompt(i18n.note_prompt); if (text) act("note", { text: text }); break;
        case "e": text = prompt(i18n.escalate_prompt); if (text !== null) act("escalate", { reason: text }); break;
        case "r": text = prompt(i18n.resolve_prompt); if (text) act("resolve", { note: text }); break;
        default: return;
      }
      e.preventDefault();
    });
  }

  tick();
  connect();
})();
