/*
 * Demo shop page: pick a demo member (or chat anonymously), get a signed member token from
 * POST /demo/token and open the chat widget with it. The chosen identity and its token are kept
 * in localStorage so that a reload reconnects to the same conversation and shows its history.
 */
(function () {
  "use strict";

  var CHOICE_KEY = "shopdemo:choice";
  var TOKEN_KEY = "shopdemo:token:";
  var TIERS = {
    normal: ["普通会员", "Member"], silver: ["银卡会员", "Silver"], gold: ["金卡会员", "Gold"],
    diamond: ["钻石会员", "Diamond"]
  };

  function lang() {
    return window.SitePage ? window.SitePage.lang() : (document.documentElement.getAttribute("data-lang") === "en" ? "en" : "zh");
  }

  function read(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function write(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* private mode: the chat still works, history just does not survive reloads */ }
  }

  /** Seconds until the token's exp claim (tokens are base64url(JSON).signature); -1 when unreadable. */
  function secondsLeft(token) {
    try {
      var body = String(token).split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
      while (body.length % 4) body += "=";
      var data = JSON.parse(atob(body));
      return typeof data.exp === "number" ? data.exp - Date.now() / 1000 : -1;
    } catch (e) {
      return -1;
    }
  }

  function choiceKey(memberId) {
    return memberId ? "m:" + memberId : "anon";
  }

  function requestToken(memberId) {
    return fetch("/demo/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ member_id: memberId || null })
    }).then(function (response) {
      if (!response.ok) return Promise.reject(new Error("token " + response.status));
      return response.json();
    }).then(function (data) {
      if (!data || !data.token) return Promise.reject(new Error("no token"));
      write(TOKEN_KEY + choiceKey(memberId), data.token);
      return data.token;
    });
  }

  /** A cached token with at least an hour left (anonymous visitors keep their visitor id), else a new one. */
  function tokenFor(memberId, forceNew) {
    var cached = read(TOKEN_KEY + choiceKey(memberId));
    if (!forceNew && cached && secondsLeft(cached) > 3600) return Promise.resolve(cached);
    return requestToken(memberId);
  }

  function memberLabel(member) {
    var l = lang();
    var id = member.member_id || member.id || "";
    var name = member["name_" + l] || member.name_masked || member.masked_name || member.name || "";
    var tier = member.tier;
    var tierLabel = "";
    if (tier && typeof tier === "object") tierLabel = tier["name_" + l] || tier.name_zh || tier.name || tier.code || "";
    else if (tier) tierLabel = TIERS[tier] ? TIERS[tier][l === "en" ? 1 : 0] : String(tier);
    tierLabel = member["tier_name_" + l] || member.tier_name_zh || member.tier_name || tierLabel;
    return [name, tierLabel, id ? "(" + id + ")" : ""].filter(Boolean).join(" · ");
  }

  function init() {
    var select = document.querySelector("[data-testid=member-picker]");
    var start = document.querySelector("[data-testid=start-chat]");
    var error = document.querySelector("[data-testid=picker-error]");
    if (!select || !start) return;
    var members = [];

    function renderOptions() {
      var chosen = select.value;
      Array.prototype.slice.call(select.querySelectorAll("option[data-member]")).forEach(function (o) { o.remove(); });
      members.forEach(function (member) {
        var id = member.member_id || member.id;
        if (!id) return;
        var option = document.createElement("option");
        option.value = String(id);
        option.textContent = memberLabel(member);
        option.setAttribute("data-member", "1");
        select.appendChild(option);
      });
      var anon = select.querySelector("option[value='']");
      if (anon) anon.textContent = lang() === "en" ? "Anonymous visitor" : "匿名访客";
      if (chosen) select.value = chosen;
    }

    function showError(zh, en) {
      if (!error) return;
      error.textContent = lang() === "en" ? en : zh;
      error.hidden = false;
    }

    function openChat(memberId, show) {
      error.hidden = true;
      start.disabled = true;
      return tokenFor(memberId, false).then(function (token) {
        write(CHOICE_KEY, choiceKey(memberId));
        window.MemberChat.open({
          token: token,
          lang: lang(),
          show: show,
          getToken: function () { return tokenFor(memberId, true); }
        });
      }).catch(function () {
        showError("暂时无法开始咨询（演示登录可能已关闭），请稍后再试。",
          "Could not start the chat (demo sign-in may be turned off); please try again later.");
      }).then(function () {
        start.disabled = false;
      });
    }

    start.addEventListener("click", function () {
      var memberId = select.value || null;
      var previous = read(CHOICE_KEY);
      if (previous && previous !== choiceKey(memberId) && window.MemberChat) window.MemberChat.reset();
      openChat(memberId, true);
    });

    document.addEventListener("site:lang", function (event) {
      renderOptions();
      if (window.MemberChat && event.detail) window.MemberChat.setLanguage(event.detail.lang);
    });

    fetch("/demo/members", { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) return Promise.reject(new Error("members " + response.status));
      return response.json();
    }).then(function (data) {
      members = Array.isArray(data) ? data : (data && (data.members || data.items)) || [];
      renderOptions();
      var previous = read(CHOICE_KEY);
      if (previous && previous.indexOf("m:") === 0) select.value = previous.slice(2);
    }).catch(function () {
      showError("演示会员列表暂不可用，仍可以匿名咨询。", "Demo members are unavailable; you can still chat anonymously.");
    }).then(function () {
      // Reconnect to the conversation chosen before the reload; the panel opens if it was open.
      var previous = read(CHOICE_KEY);
      if (previous) openChat(previous.indexOf("m:") === 0 ? previous.slice(2) : null, "auto");
    });

    // The floating launcher works without picking anyone: it chats as an anonymous visitor.
    window.MemberChatTokenProvider = function (options) {
      var previous = read(CHOICE_KEY);
      var memberId = previous && previous.indexOf("m:") === 0 ? previous.slice(2) : null;
      return tokenFor(memberId, Boolean(options && options.refresh)).then(function (token) {
        write(CHOICE_KEY, choiceKey(memberId));
        return token;
      });
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
