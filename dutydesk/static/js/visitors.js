// Visitor desk: search as you type. Without JavaScript the search box is a plain GET form.
(function () {
  "use strict";
  var input = document.getElementById("q");
  var list = document.getElementById("matches");
  if (!input || !list || !window.fetch) { return; }
  var url = input.getAttribute("data-search-url");
  var timer = null;
  var active = -1;

  function render(items) {
    list.textContent = "";
    active = -1;
    items.forEach(function (m) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = m.url;
      a.textContent = m.name;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" · " + m.client + " · " + m.areas));
      list.appendChild(li);
    });
  }

  function highlight(index) {
    var items = list.querySelectorAll("li");
    if (!items.length) { return; }
    active = (index + items.length) % items.length;
    items.forEach(function (li, i) { li.classList.toggle("active", i === active); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value.trim();
    if (q.length < 2) { render([]); return; }
    timer = setTimeout(function () {
      fetch(url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (body) { if (input.value.trim() === q) { render(body.items); } });
    }, 150);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { highlight(active + 1); event.preventDefault(); }
    if (event.key === "ArrowUp") { highlight(active - 1); event.preventDefault(); }
    if (event.key === "Enter" && active >= 0) {
      var link = list.querySelectorAll("li a")[active];
      if (link) { window.location = link.href; event.preventDefault(); }
    }
  });
})();
