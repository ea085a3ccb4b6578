// The availability grid, live: follows the changes feed (the session's own /v1/changes)
// and, when one of its SKUs changes, reads the grid again from the server. No framework.
(function () {
  "use strict";
  var grid = document.getElementById("grid");
  var badge = document.getElementById("live-state");
  if (!grid || !window.EventSource) { return; }
  var TYPES = ["adjusted", "counted", "safety_set", "oversold", "pos_voided_ahead",
    "incoming_added", "incoming_removed", "incoming_cancelled", "incoming_received",
    "incoming_redated", "reserved", "rolled_back", "expired", "released", "fulfilled",
    "reservation_moved", "reset"];
  var queued = false;
  var running = false;

  function say(text, kind) {
    badge.textContent = text;
    badge.className = "badge " + kind;
  }

  function values(root) {
    var found = {};
    root.querySelectorAll("tr[data-location] td[data-field]").forEach(function (cell) {
      var row = cell.parentElement;
      found[row.dataset.sku + "|" + row.dataset.location + "|" + cell.dataset.field] = cell.textContent;
    });
    return found;
  }

  function refresh() {
    if (running) { queued = true; return; }
    running = true;
    var before = values(grid);
    fetch(grid.dataset.gridUrl, { credentials: "same-origin", redirect: "manual" })
      .then(function (r) {
        if (!r.ok) { throw new Error("grid " + r.status); }
        return r.text();
      })
      .then(function (html) {
        grid.innerHTML = html;
        grid.querySelectorAll("tr[data-location] td[data-field]").forEach(function (cell) {
          var row = cell.parentElement;
          var key = row.dataset.sku + "|" + row.dataset.location + "|" + cell.dataset.field;
          if (before[key] !== undefined && before[key] !== cell.textContent) {
            cell.classList.add("changed");
            cell.title = "changed from " + before[key];
          }
        });
      })
      .catch(function () { say("SIGNED OUT?", "bad"); })
      .finally(function () {
        running = false;
        if (queued) { queued = false; refresh(); }
      });
  }

  var source = new EventSource(grid.dataset.liveUrl);
  source.onopen = function () { say("LIVE", "ok"); };
  source.onerror = function () { say("RECONNECTING", "warn"); };
  TYPES.forEach(function (type) { source.addEventListener(type, refresh); });
  window.addEventListener("pagehide", function () { source.close(); });
})();
