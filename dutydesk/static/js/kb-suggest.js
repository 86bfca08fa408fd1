// Suggest public knowledge-base articles while a request is typed on /help.
// Reads the subject and description, asks /help/kb/suggest (JSON) at most every 300 ms and
// lists the articles found under the form; each opens the article with its "this solved it"
// button. Without JavaScript the first step of /help shows the same suggestions.
(function () {
  "use strict";
  var box = document.getElementById("kb-live");
  var form = document.getElementById("request-form");
  if (!box || !form) { return; }
  var list = box.querySelector("ul");
  var fields = [form.querySelector("#r-subject"), form.querySelector("#r-description")];
  var service = form.querySelector("#r-service");
  var timer = null;
  var last = "";

  function show(articles) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    articles.forEach(function (a) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      var url = a.url;
      if (box.dataset.token) { url += (url.indexOf("?") < 0 ? "?" : "&") + "t=" + encodeURIComponent(box.dataset.token); }
      link.href = url;
      link.textContent = a.title;
      item.appendChild(link);
      if (a.excerpt) {
        var excerpt = document.createElement("p");
        excerpt.textContent = a.excerpt;
        item.appendChild(excerpt);
      }
      list.appendChild(item);
    });
    box.hidden = articles.length === 0;
  }

  function ask() {
    var text = fields.map(function (f) { return f ? f.value : ""; }).join(" ").trim();
    if (text.length < 3 || text === last) { return; }
    last = text;
    var params = new URLSearchParams({
      q: text.slice(0, 300),
      service: service ? service.value : "",
      lang: document.documentElement.lang || "en"
    });
    fetch(box.dataset.url + "?" + params.toString(), {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : {articles: []}; })
      .then(function (data) { show(data.articles || []); })
      .catch(function () { /* suggestions are a help, never an obstacle */ });
  }

  fields.forEach(function (f) {
    if (!f) { return; }
    f.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 300);
    });
  });
}());
