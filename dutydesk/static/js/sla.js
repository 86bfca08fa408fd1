/* Live SLA clocks on the incident screens: every .sla-clock[data-due] counts down each second,
   "mm:ss" under an hour, turns amber at data-warn-from and red ("breached … ago") at data-due.
   Words come from the element's data attributes (rendered in the viewer's language). */
(function () {
  "use strict";
  function span(el, seconds) {
    var m = Math.floor(seconds / 60);
    if (m < 60) return m + " " + el.dataset.min;
    var h = Math.floor(m / 60);
    if (h < 24) return h + " " + el.dataset.h + " " + String(m % 60).padStart(2, "0") + " " + el.dataset.min;
    return Math.floor(h / 24) + " " + el.dataset.d + " " + (h % 24) + " " + el.dataset.h;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla-clock[data-due]").forEach(function (el) {
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      var state = left <= 0 ? "breached"
        : (el.dataset.warnFrom && now < Date.parse(el.dataset.warnFrom)) ? "ok" : "warning";
      el.classList.remove("sla-ok", "sla-warning", "sla-breached");
      el.classList.add("sla-" + state);
      el.dataset.state = state;
      var s = Math.floor(Math.abs(left));
      el.querySelector(".left").textContent = state === "breached"
        ? el.dataset.breached.replace("%(t)s", span(el, -left))
        : left < 3600 ? String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0")
        : span(el, left);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
