// The portal's one script: live figures on the period page (Server-Sent Events through the
// portal's session: the page holds no token), and the period list that opens its period.
(function () {
  "use strict";
  var body = document.body;
  var navigate = document.querySelector("[data-navigate]");
  if (navigate) {
    navigate.addEventListener("change", function () {
      window.location.href = navigate.getAttribute("data-navigate") +
        encodeURIComponent(navigate.value) + window.location.search.replace(/([?&])ky=[^&]*&?/, "$1");
    });
  }
  // Tables marked data-sortable: each column header becomes a button that sorts the rows
  // shown (by number where the column holds numbers), with aria-sort saying how.
  function sortable(root) {
    Array.prototype.forEach.call(root.querySelectorAll("table[data-sortable]"), function (table) {
      var heads = table.querySelectorAll("thead th");
      Array.prototype.forEach.call(heads, function (th, column) {
        if (th.querySelector("button")) { return; }
        var button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        button.textContent = th.textContent;
        th.textContent = "";
        th.appendChild(button);
        button.addEventListener("click", function () {
          var ascending = th.getAttribute("aria-sort") !== "ascending";
          Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
          th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
          var numeric = th.getAttribute("data-type") === "number";
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) {
            var x = a.cells[column].textContent.trim(), y = b.cells[column].textContent.trim();
            var order = numeric ? (parseFloat(x) || -1) - (parseFloat(y) || -1)
                                : x.localeCompare(y, document.documentElement.lang);
            return ascending ? order : -order;
          });
          rows.forEach(function (row) { body.appendChild(row); });
        });
      });
    });
  }
  sortable(document);
  var source = body.getAttribute("data-live");
  if (!source || !window.EventSource) { return; }
  var period = body.getAttribute("data-period");
  var pending = false;
  function refresh() {
    if (pending) { return; }
    pending = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "accept": "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        pending = false;
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["live-figures", "unit-table", "missing-units"].forEach(function (id) {
          var now = document.getElementById(id), next = fresh.getElementById(id);
          if (now && next) { now.innerHTML = next.innerHTML; }
        });
        sortable(document);
      })
      .catch(function () { pending = false; });
  }
  var events = new EventSource(source);
  events.addEventListener("progress", function (event) {
    try {
      if (period === "*" || JSON.parse(event.data).period === period) { refresh(); }
    } catch (ignored) { refresh(); }
  });
}());
