// Countdowns to a promise or a hold's expiry, in words: "in 25 min", "LATE 5 min".
(function () {
  "use strict";
  var clocks = document.querySelectorAll("time[data-countdown]");
  if (!clocks.length) { return; }

  function words(ms) {
    var s = Math.round(Math.abs(ms) / 1000);
    if (s < 60) { return s + " s"; }
    var m = Math.floor(s / 60);
    if (m < 60) { return m + " min"; }
    var h = Math.floor(m / 60);
    return h + " h " + (m % 60) + " min";
  }

  function tick() {
    var now = Date.now();
    clocks.forEach(function (el) {
      var left = Date.parse(el.getAttribute("datetime")) - now;
      if (isNaN(left)) { return; }
      var late = left < 0;
      el.textContent = late ? (el.dataset.expiredLabel || "LATE") + " " + words(left) : "in " + words(left);
      el.classList.toggle("late", late);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
