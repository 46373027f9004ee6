/*
 * DOM helper shared by the agent console (console.js) and the ops dashboard (ops.js).
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

  window.DeskDom = { el: el };
})();
