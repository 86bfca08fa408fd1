/* DutyDesk wall: applies incremental patches from /wall/events (Server-Sent Events), watches the
   feed's heartbeat (a hung server keeps the connection open but goes quiet: "NOT LIVE"), ticks
   clocks in the site's zone, fits everything on one screen, optional page rotation, optional beep
   for a new P1/P2, keyboard shortcuts for incident actions. Every word comes from the server
   (fragments rendered in the wall's language, data-i18n for the few the script writes). */
(function () {
  "use strict";
  var root = document.getElementById("wall");
  if (!root) return;
  var i18n = JSON.parse(root.dataset.i18n || "{}");
  var actions = JSON.parse(root.dataset.actions || "{}");
  var zone = root.dataset.zone || "UTC";
  var locale = root.dataset.locale || "en";
  var beatMs = (parseFloat(root.dataset.heartbeat) || 5) * 1000;
  var live = document.querySelector(".wall-live");
  var notLive = document.querySelector(".wall-notlive");
  var lastBeatAt = Date.now();
  var source = null;
  var selected = null;

  // ------------------------------------------------------------------ site-zone times
  var timeFormat = new Intl.DateTimeFormat(locale, {
    timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
  });
  function siteTime(ms) { return timeFormat.format(new Date(ms)); }

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
    showPage();
    tick();
    fit();
  }

  // ------------------------------------------------------------------ stream + heartbeat
  function heard() {
    lastBeatAt = Date.now();
    setLive(true);
  }

  function connect() {
    if (source) source.close();
    var url = root.dataset.events + (root.dataset.version ? "?v=" + encodeURIComponent(root.dataset.version) : "");
    source = new EventSource(url);
    source.addEventListener("patch", function (e) {
      heard();
      try { applyPatch(JSON.parse(e.data)); } catch (err) { console.error("wall patch failed", err); }
    });
    source.addEventListener("heartbeat", heard);
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        // e.g. the session ended (kiosk link revoked): a reload shows the real answer.
        setTimeout(function () { location.reload(); }, 10000);
      }
    };
  }

  function setLive(ok) {
    if (notLive) {
      if (!ok && notLive.hidden) notLive.querySelector(".since").textContent = siteTime(lastBeatAt);
      notLive.hidden = ok;
    }
    if (live) {
      live.classList.toggle("lost", !ok);
      live.querySelector(".word").textContent = ok ? i18n.live : i18n.not_live;
    }
    document.body.classList.toggle("wall-not-live", !ok);
  }

  // No heartbeat for two periods: say so. Silent for longer: drop the connection and dial again
  // (a hung server's socket may never report an error); the next heartbeat clears the banner.
  var lastReconnect = 0;
  setInterval(function () {
    var quiet = Date.now() - lastBeatAt;
    if (quiet > 2 * beatMs) setLive(false);
    if (quiet > 4 * beatMs && Date.now() - lastReconnect > 4 * beatMs) {
      lastReconnect = Date.now();
      connect();
    }
  }, 500);

  // ------------------------------------------------------------------ clocks
  function span(seconds) {
    var m = Math.floor(seconds / 60);
    if (m < 60) return m + " " + i18n.min;
    var h = Math.floor(m / 60);
    if (h < 24) return h + " " + i18n.h + " " + String(m % 60).padStart(2, "0") + " " + i18n.min;
    return Math.floor(h / 24) + " " + i18n.d + " " + (h % 24) + " " + i18n.h;
  }
  // Time left on an SLA clock: mm:ss under an hour, then hours and minutes.
  function countdown(seconds) {
    if (seconds >= 3600) return span(seconds);
    var s = Math.floor(seconds);
    return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }

  function tick() {
    var now = Date.now();
    var clock = root.querySelector(".wall-clock");
    if (clock) clock.textContent = siteTime(now);
    root.querySelectorAll(".incident[data-opened]").forEach(function (el) {
      var age = el.querySelector(".age");
      if (age) age.textContent = span(Math.max((now - Date.parse(el.dataset.opened)) / 1000, 0));
    });
    root.querySelectorAll(".sla[data-due]").forEach(function (el) {
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      var state = left <= 0 ? "breached"
        : (el.dataset.warnFrom && now < Date.parse(el.dataset.warnFrom)) ? "ok" : "warning";
      el.className = "sla sla-" + state;
      el.dataset.state = state;
      var item = el.closest(".incident");
      if (item) item.classList.toggle("breached", state === "breached");
      el.querySelector(".left").textContent = state === "breached"
        ? i18n.breached_ago.replace("%(t)s", span(-left)) : countdown(left);
    });
  }
  setInterval(tick, 1000);

  // ------------------------------------------------------------------ one screen
  // The server fits the wall on a 1080-line screen in 32 px lines; text that wraps more than it
  // assumed is trimmed here, always from the least severe end: tiles of the last detailed group
  // first, then incidents from the bottom (the "+N more" line counts them).
  function overflowing(el) { return el && el.scrollHeight > el.clientHeight + 1; }

  function fit() {
    var problems = root.querySelector(".wall-problems");
    var shown = function (selector) {
      return Array.prototype.filter.call(root.querySelectorAll(selector), function (el) {
        return !el.hidden && !el.closest("[hidden]");
      });
    };
    var squeeze = function (el) { el.hidden = true; el.dataset.squeezed = "1"; };
    // start from what the server sent (the space may have grown since the last fit)
    root.querySelectorAll(".squeezed").forEach(function (el) { el.classList.remove("squeezed"); });
    root.querySelectorAll("[data-squeezed]").forEach(function (el) { el.hidden = false; delete el.dataset.squeezed; });
    var guard = 400;
    while (overflowing(problems) && guard-- > 0) {
      // 1. detail of the less severe groups goes first, from the bottom
      var open = shown(".wall-group:not(.collapsed):not(.squeezed)").slice(1);
      if (open.length) { open[open.length - 1].classList.add("squeezed"); continue; }
      // 2. then the worst group's last tiles, keeping its first row
      var tiles = shown(".wall-group:not(.collapsed):not(.squeezed) .tile");
      if (tiles.length > 2) { squeeze(tiles[tiles.length - 1]); continue; }
      // 3. then the least severe summaries
      var summaries = shown(".wall-group.collapsed, .wall-group.squeezed").slice(1);
      if (summaries.length) { squeeze(summaries[summaries.length - 1]); continue; }
      break;
    }
    var column = root.querySelector(".wall-incidents");
    var list = root.querySelector('[data-section="incidents"]');
    if (!column || !list) return;
    var items = Array.prototype.slice.call(list.querySelectorAll(".incident[data-incident]"));
    items.forEach(function (el) { el.hidden = false; });  // start from all the server sent
    var more = list.querySelector(".incident-more");
    var texts = more ? JSON.parse(more.dataset.texts || "[]") : [];
    var hidden = 0;
    while (overflowing(column) && hidden < items.length - 1) {
      hidden += 1;
      items[items.length - hidden].hidden = true;
      if (more && texts[hidden]) more.textContent = texts[hidden];
    }
    if (more && texts.length && hidden === 0) more.textContent = texts[0];
  }
  window.addEventListener("resize", fit);

  // ------------------------------------------------------------------ rotation
  var rotateMs = (parseInt(root.dataset.rotate, 10) || 0) * 1000;
  var page = 1;
  function pages() {
    var most = 1;
    root.querySelectorAll("[data-page]").forEach(function (el) {
      most = Math.max(most, parseInt(el.dataset.page, 10) || 1);
    });
    return most;
  }
  function showPage() {
    if (page > pages()) page = 1;
    root.querySelectorAll('[data-section="problems"] > [data-page]').forEach(function (el) {
      el.hidden = String(page) !== el.dataset.page;
    });
  }
  if (rotateMs) {
    setInterval(function () { page = page % pages() + 1; showPage(); fit(); }, rotateMs);
  }

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

  showPage();
  tick();
  fit();
  connect();
})();
