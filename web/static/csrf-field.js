/* Fills empty csrf_token form fields from the desk_csrf cookie (double submit), for pages rendered
   without a token in their context (the 403 page). */
(function () {
  "use strict";
  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i += 1) {
      var index = parts[i].indexOf("=");
      if (parts[i].slice(0, index) === name) return decodeURIComponent(parts[i].slice(index + 1));
    }
    return "";
  }
  function fill() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-csrf-field]"), function (input) {
      if (!input.value) input.value = cookie("desk_csrf");
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fill);
  else fill();
})();
