// Keeps the open incidents table current without a reload: every few seconds it asks for the
// table's rows (the same filters, as an HTML fragment) and swaps them in. With JavaScript off
// the page is the same table, current as of its load. router's own code: no library.
(function () {
  "use strict";
  var body = document.querySelector("[data-live]");
  if (!body || !window.fetch) { return; }
  var every = Number(body.getAttribute("data-every") || "5") * 1000;
  function refresh() {
    fetch(body.getAttribute("data-live"), {credentials: "same-origin",
                                            headers: {"Accept": "text/html"}})
      .then(function (answer) {
        // Sent to the login page (the session ended): show it, not its form in the table.
        if (answer.redirected) { window.location.reload(); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) { if (html !== null) { body.innerHTML = html; } })
      .catch(function () {})
      .then(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);
})();
