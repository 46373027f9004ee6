/* Fills empty csrf_token form fields from the desk_csrf cookie (double submit), for pages rendered
   without a token in their context (the 403 page). Needs web/static/dom.js. */
(function () {
  "use strict";
  function fill() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-csrf-field]"), function (input) {
      if (!input.value) input.value = window.DeskDom.csrfToken();
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fill);
  else fill();
})();
