// Keeps the deadline countdowns current while a page stays open. Everything else works without
// script: the server writes each countdown when the page is made, this only updates the words.
(function () {
  "use strict";

  function words(dueAt, now) {
    var left = dueAt - now;
    var late = left < 0;
    var span = Math.abs(left) / 1000;
    var days = Math.floor(span / 86400);
    var hours = Math.floor((span % 86400) / 3600);
    var minutes = Math.floor((span % 3600) / 60);
    var text;
    if (days >= 2) {
      text = days + " days" + (hours && days < 7 ? " " + hours + " h" : "");
    } else if (days === 1) {
      text = hours ? "1 day " + hours + " h" : "1 day";
    } else if (hours) {
      text = minutes ? hours + " h " + minutes + " min" : hours + " h";
    } else {
      text = minutes + " min";
    }
    return late ? "overdue by " + text : "due in " + text;
  }

  function refresh() {
    var now = Date.now();
    var spans = document.querySelectorAll("[data-due]");
    for (var i = 0; i < spans.length; i++) {
      var due = Date.parse(spans[i].getAttribute("data-due"));
      if (isNaN(due)) {
        continue;
      }
      var target = spans[i].querySelector("strong") || spans[i];
      target.textContent = words(due, now);
      if (due < now) {
        spans[i].classList.add("overdue");
      }
    }
  }

  function focusNotice() {
    var notice = document.getElementById("notice");
    if (notice && window.location.hash === "#notice") {
      notice.focus();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusNotice();
    window.setInterval(refresh, 30000);
  });
})();
