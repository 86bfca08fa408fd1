/* Page behaviour every screen shares, kept out of the HTML so the Content-Security-Policy can
   forbid inline script (script-src 'self'):
   - <form data-confirm="Question?"> asks before submitting;
   - <button data-print> prints the page. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
  document.addEventListener("click", function (event) {
    var target = event.target && event.target.closest ? event.target.closest("[data-print]") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
})();
