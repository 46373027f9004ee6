/*
 * Language switch for the server-rendered pages (shop, login, ops, 403).
 * Pages carry both languages: <span class="i-zh">…</span><span class="i-en">…</span>; the
 * <html data-lang> attribute decides which one shows. Inputs take data-placeholder-zh/-en.
 * The choice is remembered in localStorage; "?lang=xx" in the address wins over it.
 */
(function () {
  "use strict";
  var KEY = "site:lang";

  function apply(lang) {
    var root = document.documentElement;
    root.setAttribute("data-lang", lang);
    root.setAttribute("lang", lang === "en" ? "en" : "zh-CN");
    Array.prototype.forEach.call(document.querySelectorAll("[data-placeholder-zh]"), function (node) {
      node.setAttribute("placeholder", node.getAttribute("data-placeholder-" + lang) || node.getAttribute("data-placeholder-zh"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-title-zh]"), function (node) {
      var title = node.getAttribute("data-title-" + lang);
      if (title) document.title = title;
    });
    Array.prototype.forEach.call(document.querySelectorAll("input[name=lang]"), function (node) {
      node.value = lang;
    });
    document.dispatchEvent(new CustomEvent("site:lang", { detail: { lang: lang } }));
  }

  function current() {
    return document.documentElement.getAttribute("data-lang") === "en" ? "en" : "zh";
  }

  function init() {
    var fromUrl = new URLSearchParams(window.location.search).get("lang");
    var stored = null;
    try { stored = window.localStorage.getItem(KEY); } catch (e) { stored = null; }
    var lang = fromUrl === "en" || fromUrl === "zh" ? fromUrl : (stored === "en" || stored === "zh" ? stored : current());
    apply(lang);
    Array.prototype.forEach.call(document.querySelectorAll("[data-lang-toggle]"), function (button) {
      button.addEventListener("click", function () {
        var next = current() === "zh" ? "en" : "zh";
        try { window.localStorage.setItem(KEY, next); } catch (e) { /* ignore */ }
        apply(next);
      });
    });
  }

  window.SitePage = { lang: current, apply: apply };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
