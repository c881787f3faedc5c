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
