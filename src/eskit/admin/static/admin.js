// eskit admin console: live updates on top of pages that work without this script.
"use strict";
(function () {
  function liveTail() {
    var badge = document.getElementById("live");
    var body = document.getElementById("tail");
    if (!badge || !body || !window.EventSource) { return; }
    var source = new EventSource(badge.dataset.src);
    source.addEventListener("open", function () {
      badge.textContent = "live";
      badge.className = "state live";
    });
    source.addEventListener("error", function () {
      badge.textContent = "reconnecting…";
      badge.className = "state catching_up";
    });
    source.addEventListener("events", function (message) {
      var holder = document.createElement("tbody");
      holder.innerHTML = message.data;
      var rows = Array.prototype.slice.call(holder.children);
      for (var i = rows.length - 1; i >= 0; i--) {
        rows[i].classList.add("fresh");
        body.insertBefore(rows[i], body.firstChild);
      }
      while (body.children.length > 500) { body.removeChild(body.lastChild); }
    });
  }
  document.addEventListener("DOMContentLoaded", liveTail);
})();
