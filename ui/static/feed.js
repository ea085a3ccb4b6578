// The live feed: each change of the session's /v1/changes as a row, newest first, with
// oversells, shortages and re-sourcing moves marked in words as well as color.
(function () {
  "use strict";
  var table = document.getElementById("feed");
  var badge = document.getElementById("live-state");
  if (!table || !window.EventSource) { return; }
  var ROWS_MAX = 200;
  var marks = JSON.parse(table.dataset.highlights);
  var body = table.tBodies[0];
  var TYPES = ["adjusted", "counted", "safety_set", "oversold", "pos_voided_ahead",
    "incoming_added", "incoming_removed", "incoming_cancelled", "incoming_received",
    "incoming_redated", "reserved", "rolled_back", "expired", "released", "fulfilled",
    "reservation_moved", "availability_changed", "went_unavailable", "back_in_stock",
    "low_stock", "reset"];

  function say(text, kind) {
    badge.textContent = text;
    badge.className = "badge " + kind;
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    if (cls) { td.className = cls; }
    row.appendChild(td);
    return td;
  }

  function change(data) {
    if (data.changes) {
      return Object.keys(data.changes).map(function (k) {
        var v = data.changes[k];
        return k.replace("_", " ") + " " + (v > 0 ? "+" : "") + v;
      }).join(", ") + (data.reason ? " (" + data.reason + ")" : "");
    }
    if (data.atp_before !== undefined) {
      return (data.channel || "") + " ATP " + data.atp_before + " → " + data.atp_after;
    }
    return "";
  }

  function show(event) {
    var data = {};
    try { data = JSON.parse(event.data || "{}"); } catch (e) { data = {}; }
    var empty = body.querySelector("tr.empty");
    if (empty) { empty.remove(); }
    var row = document.createElement("tr");
    var at = data.at ? new Date(data.at) : new Date();
    cell(row, at.toLocaleTimeString());
    cell(row, event.type);
    cell(row, data.sku);
    cell(row, data.location || data.group);
    cell(row, change(data));
    cell(row, data.on_hand, "num");
    cell(row, data.reserved, "num");
    cell(row, data.atp && typeof data.atp === "object" ? data.atp.online : "", "num");
    var mark = marks[event.type];
    if (!mark && data.on_hand !== undefined && data.reserved > data.on_hand) { mark = "SHORT"; }
    var td = cell(row, "");
    if (mark) {
      var span = document.createElement("span");
      span.className = "badge " + (mark === "BACK IN STOCK" ? "ok" : "bad");
      span.textContent = mark;
      td.appendChild(span);
      row.className = "marked";
    }
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > ROWS_MAX) { body.deleteRow(-1); }
  }

  var source = new EventSource(table.dataset.liveUrl);
  source.onopen = function () { say("LIVE", "ok"); };
  source.onerror = function () { say("RECONNECTING", "warn"); };
  TYPES.forEach(function (type) { source.addEventListener(type, show); });
  window.addEventListener("pagehide", function () { source.close(); });
})();
