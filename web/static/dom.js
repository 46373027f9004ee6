/*
 * Helpers shared by the agent console (console.js), the ops dashboard (ops.js) and the 403 page
 * (csrf-field.js): building elements, the CSRF token of the double submit, and the toast.
 * Text always goes in with textContent: nothing a member typed is ever parsed as HTML.
 * (The member widget, widget.js, is embedded in other sites and keeps its own copy.)
 */
(function () {
  "use strict";

  /** An element with a class, text (as text, never HTML) and attributes (null/undefined skipped). */
  function el(tag, className, text, attrs) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null && text !== "") node.textContent = String(text);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (attrs[name] !== undefined && attrs[name] !== null) node.setAttribute(name, String(attrs[name]));
      });
    }
    return node;
  }

  /** The value of cookie ``name`` ("" when absent). */
  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i += 1) {
      var index = parts[i].indexOf("=");
      if (parts[i].slice(0, index) === name) return decodeURIComponent(parts[i].slice(index + 1));
    }
    return "";
  }

  /** The CSRF token to send as X-CSRF-Token (or a csrf_token field): the desk_csrf cookie, else
   *  the token the page was rendered with. */
  function csrfToken() {
    return cookie("desk_csrf") || (document.body && document.body.getAttribute("data-csrf-token")) || "";
  }

  /** Show ``text`` in the page's #toast box for 4 s; ``kind`` is info (default), ok or error. */
  function toast(text, kind) {
    var node = document.getElementById("toast");
    if (!node) return;
    node.textContent = text;
    node.setAttribute("data-kind", kind || "info");
    node.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { node.hidden = true; }, 4000);
  }

  window.DeskDom = { el: el, cookie: cookie, csrfToken: csrfToken, toast: toast };
})();
