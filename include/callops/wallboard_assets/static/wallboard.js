// callops wallboard: draws the page's charts from the data embedded in it, and, served over http(s)
// only, reloads the page when a publish replaced the wallboard (its folder's stamp.json changed).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("wallboard-data").textContent);
  var charts = document.querySelectorAll("[data-chart]");
  for (var i = 0; i < charts.length; i++) {
    (function (element) {
      var spec = data.charts[element.getAttribute("data-chart")];
      if (!spec) {
        return;
      }
      vegaEmbed(element, spec, { actions: false, renderer: "svg" }).catch(function (error) {
        element.textContent = "This chart could not be drawn: " + error.message;
      });
    })(charts[i]);
  }
  if (location.protocol === "http:" || location.protocol === "https:") {
    setInterval(function () {
      fetch("stamp.json", { cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (served) {
          if (served && served.stamp && served.stamp !== data.stamp) {
            location.reload();
          }
        })
        .catch(function () { /* the server is restarting: try again at the next poll */ });
    }, data.poll_seconds * 1000);
  }
})();
