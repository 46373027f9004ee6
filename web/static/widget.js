/*
 * Member chat widget (plain JavaScript, no build step, no external resources).
 *
 * Embed:  <script src="/static/widget.js" data-token-url="/demo/token" defer></script>
 * API:    window.MemberChat.open({token, lang, getToken, show})
 *           getToken(): Promise<token>, optional: called when the token is refused or missing;
 *           show: true (default) | false (connect only) | "auto" (show if it was open before reload)
 *         window.MemberChat.close(); window.MemberChat.setLanguage("en"); window.MemberChat.reset()
 *
 * Protocol (WebSocket /ws/chat?token=…&after_seq=N), server → client frames:
 *   hello, message, ack, typing, state, csat_ack, error;  client → server frames:
 *   message {client_id, text, payload}, csat {score}, cancel_handoff, language {language}.
 *
 * Every message is rendered once, keyed by its seq. History and unacknowledged messages are kept
 * in localStorage per conversation, so a reload shows the history at once and resends what the
 * server never acknowledged (same client_id: the server stores it only once).
 * All text reaches the page through textContent (never innerHTML).
 */
(function () {
  "use strict";

  if (window.MemberChat && window.MemberChat.__loaded) {
    return;
  }

  var STRINGS = {
    zh: {
      title: "会员服务",
      subtitle: "智能助手 · 人工客服 9:00–21:00",
      launcher: "联系客服",
      placeholder: "请输入您的问题…",
      send: "发送",
      close: "关闭",
      langSwitch: "EN",
      langSwitchTitle: "Switch to English",
      connecting: "正在连接…",
      reconnecting: "连接已断开，正在重新连接…",
      offline: "网络不可用，消息将在恢复后发送",
      sending: "发送中",
      failed: "未送达，将自动重试",
      queued: "排队中，您当前排在第 {n} 位",
      queuedNoPos: "正在为您转接人工客服，请稍候",
      cancel: "取消",
      assigned: "人工客服 {name} 已接入",
      botName: "智能助手",
      agentFallback: "人工客服",
      you: "我",
      typingBot: "智能助手正在输入…",
      typingAgent: "{name} 正在输入…",
      claim: "领取",
      claiming: "领取中…",
      claimed: "已领取",
      inWallet: "已到账",
      validUntil: "有效期至 {d}",
      code: "券码 {c}",
      storeWide: "全场通用",
      only: "限{c}",
      minSpend: "满{m}可用",
      noMinimum: "无门槛",
      discount: "{r}折",
      csatAsk: "请为本次服务打分",
      csatThanks: "感谢您的评价！",
      csatStar: "{n} 星",
      welcome: "您好，我是会员服务智能助手。可以问我积分、优惠券、订单、会员权益，或让我为您推荐商品。",
      anonymousNote: "您当前未登录，仅能获得通用解答。",
      tooLong: "消息太长了，请分几次发送（最多 2000 字）",
      expired: "会话已过期，请刷新页面后重试",
      error: "出错了，请稍后再试",
      empty: "",
      unread: "条新消息",
      recommendReason: "推荐理由",
      price: "¥{p}"
    },
    en: {
      title: "Member service",
      subtitle: "Assistant · Agents 9:00–21:00",
      launcher: "Chat with us",
      placeholder: "Type your question…",
      send: "Send",
      close: "Close",
      langSwitch: "中文",
      langSwitchTitle: "切换到中文",
      connecting: "Connecting…",
      reconnecting: "Connection lost, reconnecting…",
      offline: "You're offline; messages will be sent when you're back",
      sending: "Sending",
      failed: "Not delivered yet, retrying",
      queued: "In the queue: you're number {n}",
      queuedNoPos: "Connecting you to an agent, please wait",
      cancel: "Cancel",
      assigned: "Agent {name} has joined",
      botName: "Assistant",
      agentFallback: "Agent",
      you: "Me",
      typingBot: "The assistant is typing…",
      typingAgent: "{name} is typing…",
      claim: "Claim",
      claiming: "Claiming…",
      claimed: "Claimed",
      inWallet: "In your wallet",
      validUntil: "Valid until {d}",
      code: "Code {c}",
      storeWide: "Store-wide",
      only: "{c} only",
      minSpend: "Orders over ¥{m}",
      noMinimum: "No minimum spend",
      discount: "{r}% off",
      csatAsk: "Please rate this conversation",
      csatThanks: "Thank you for your rating!",
      csatStar: "{n} star(s)",
      welcome: "Hi, I'm the member-service assistant. Ask me about points, coupons, orders, tier benefits, or let me recommend products.",
      anonymousNote: "You're not logged in, so I can only give general answers.",
      tooLong: "That message is too long; please split it up (2000 characters at most)",
      expired: "The session has expired; please reload the page",
      error: "Something went wrong, please try again later",
      empty: "",
      unread: "new",
      recommendReason: "Why",
      price: "¥{p}"
    }
  };

  var STORE_PREFIX = "memberchat:v1:";
  var MAX_STORED = 300;
  var MAX_TEXT = 2000;
  var CARD_TYPES = { product_cards: 1, coupon_cards: 1, coupon_offers: 1 };

  // ------------------------------------------------------------------------------------------
  // Small helpers
  // ------------------------------------------------------------------------------------------

  var currentScript = document.currentScript;
  var scriptSrc = currentScript && currentScript.src ? currentScript.src : "/static/widget.js";
  var scriptData = (currentScript && currentScript.dataset) || {};
  var baseUrl = new URL(scriptSrc, window.location.href);

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (all, key) {
      return values && values[key] !== undefined && values[key] !== null ? String(values[key]) : all;
    });
  }

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

  function storageGet(key) {
    try {
      var raw = window.localStorage.getItem(STORE_PREFIX + key);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  }

  function storageSet(key, value) {
    try {
      window.localStorage.setItem(STORE_PREFIX + key, JSON.stringify(value));
    } catch (e) {
      /* storage full or disabled: the socket sync still fills the history */
    }
  }

  function storageRemove(key) {
    try {
      window.localStorage.removeItem(STORE_PREFIX + key);
    } catch (e) {
      /* ignore */
    }
  }

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  /** The identity inside a member token ({m, v, exp}); null when it cannot be read. */
  function tokenClaims(token) {
    try {
      var body = String(token).split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
      while (body.length % 4) body += "=";
      var bytes = atob(body);
      var json = decodeURIComponent(Array.prototype.map.call(bytes, function (c) {
        return "%" + ("00" + c.charCodeAt(0).toString(16)).slice(-2);
      }).join(""));
      var data = JSON.parse(json);
      return data && typeof data === "object" ? data : null;
    } catch (e) {
      return null;
    }
  }

  function identityKey(token) {
    var claims = tokenClaims(token);
    if (claims && (claims.m || claims.v)) return claims.m ? "m:" + claims.m : "v:" + claims.v;
    return "t:" + String(token).slice(0, 48);
  }

  function pick(item, field, lang) {
    if (!item) return "";
    var value = item[field + "_" + lang] || item[field + "_zh"] || item[field] || item[field + "_en"];
    return value === undefined || value === null ? "" : String(value);
  }

  function money(value) {
    var number = Number(value);
    if (!isFinite(number)) return String(value);
    return number === Math.round(number) ? String(Math.round(number)) : number.toFixed(2);
  }

  function timeLabel(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    var now = new Date();
    var hm = ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
    if (date.toDateString() === now.toDateString()) return hm;
    return (date.getMonth() + 1) + "/" + date.getDate() + " " + hm;
  }

  function dateLabel(iso) {
    if (!iso) return "";
    return String(iso).slice(0, 10);
  }

  function initials(name, fallback) {
    var text = String(name || "").trim();
    if (!text) return fallback;
    if (/^[\x00-\x7f]+$/.test(text)) {
      var parts = text.split(/\s+/);
      return (parts[0][0] + (parts.length > 1 ? parts[1][0] : "")).toUpperCase();
    }
    // 小王 → 王 reads better on a round avatar than 小.
    return text.length >= 2 && text[0] === "小" ? text[1] : text[0];
  }

  function ensureStylesheet() {
    if (document.querySelector("link[data-memberchat-css]")) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("widget.css", baseUrl).href;
    link.setAttribute("data-memberchat-css", "1");
    document.head.appendChild(link);
  }

  // ------------------------------------------------------------------------------------------
  // The widget
  // ------------------------------------------------------------------------------------------

  function Widget() {
    this.lang = "zh";
    this.token = null;
    this.getToken = null;
    this.identity = null;
    this.conversationId = null;
    this.messages = {}; // seq -> message dict
    this.maxSeq = 0;
    this.pending = []; // [{client_id, text, payload, created_at}]
    this.state = { state: "bot", queue_position: null, agent_name: null };
    this.ws = null;
    this.connected = false;
    this.retry = 0;
    this.retryTimer = null;
    this.failuresBeforeHello = 0;
    this.stopped = true;
    this.typingTimer = null;
    this.built = false;
    this.isOpen = false;
    this.unread = 0;
    this.marks = {};
  }

  Widget.prototype.t = function (key, values) {
    var table = STRINGS[this.lang] || STRINGS.zh;
    return fmt(table[key] !== undefined ? table[key] : STRINGS.zh[key] || key, values);
  };

  Widget.prototype.build = function () {
    if (this.built) return;
    this.built = true;
    ensureStylesheet();
    var self = this;
    var root = el("div", "mc-root", null, { "data-testid": "chat-root", "data-lang": this.lang });
    this.root = root;

    var launcher = el("button", "mc-launcher", null, { type: "button", "data-testid": "chat-launcher" });
    this.launcherIcon = el("span", "mc-launcher-icon", null, { "aria-hidden": "true" });
    this.launcherLabel = el("span", "mc-launcher-label");
    this.badge = el("span", "mc-badge", null, { "data-testid": "chat-unread", hidden: "" });
    launcher.appendChild(this.launcherIcon);
    launcher.appendChild(this.launcherLabel);
    launcher.appendChild(this.badge);
    launcher.addEventListener("click", function () { self.toggle(); });
    this.launcher = launcher;

    var panel = el("section", "mc-panel", null, { "data-testid": "chat-panel", role: "dialog", "aria-modal": "false", hidden: "" });
    this.panel = panel;

    var header = el("header", "mc-header");
    var brand = el("div", "mc-header-avatar", "AI", { "aria-hidden": "true" });
    var titles = el("div", "mc-header-titles");
    this.titleNode = el("div", "mc-title", null, { "data-testid": "chat-title" });
    this.subtitleNode = el("div", "mc-subtitle", null, { "data-testid": "chat-status" });
    titles.appendChild(this.titleNode);
    titles.appendChild(this.subtitleNode);
    this.langButton = el("button", "mc-icon-button mc-lang", null, { type: "button", "data-testid": "lang-switch" });
    this.langButton.addEventListener("click", function () {
      self.setLanguage(self.lang === "zh" ? "en" : "zh", true);
    });
    this.closeButton = el("button", "mc-icon-button mc-close", "×", { type: "button", "data-testid": "chat-close" });
    this.closeButton.addEventListener("click", function () { self.close(); });
    header.appendChild(brand);
    header.appendChild(titles);
    header.appendChild(this.langButton);
    header.appendChild(this.closeButton);

    this.banner = el("div", "mc-banner", null, { "data-testid": "state-banner", hidden: "", role: "status" });
    this.bannerText = el("span", "mc-banner-text", null, { "data-testid": "state-banner-text" });
    this.bannerCancel = el("button", "mc-banner-cancel", null, { type: "button", "data-testid": "cancel-handoff" });
    this.bannerCancel.addEventListener("click", function () {
      self.sendFrame({ type: "cancel_handoff" });
      self.bannerCancel.disabled = true;
    });
    this.banner.appendChild(this.bannerText);
    this.banner.appendChild(this.bannerCancel);

    this.notice = el("div", "mc-notice", null, { "data-testid": "chat-notice", hidden: "", role: "status" });

    this.list = el("div", "mc-messages", null, { "data-testid": "chat-messages", role: "log", "aria-live": "polite" });
    this.intro = el("div", "mc-intro", null, { "data-testid": "chat-intro" });
    this.list.appendChild(this.intro);

    this.typing = el("div", "mc-typing", null, { "data-testid": "typing-indicator", hidden: "" });
    this.typingText = el("span", "mc-typing-text");
    var dots = el("span", "mc-dots", null, { "aria-hidden": "true" });
    dots.appendChild(el("i"));
    dots.appendChild(el("i"));
    dots.appendChild(el("i"));
    this.typing.appendChild(dots);
    this.typing.appendChild(this.typingText);

    var form = el("form", "mc-compose", null, { "data-testid": "chat-form" });
    this.input = el("textarea", "mc-input", null, { rows: "1", "data-testid": "chat-input", maxlength: String(MAX_TEXT) });
    this.sendButton = el("button", "mc-send", null, { type: "submit", "data-testid": "chat-send" });
    form.appendChild(this.input);
    form.appendChild(this.sendButton);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submitInput();
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.submitInput();
      }
    });
    this.input.addEventListener("input", function () {
      self.input.style.height = "auto";
      self.input.style.height = Math.min(self.input.scrollHeight, 120) + "px";
    });

    panel.appendChild(header);
    panel.appendChild(this.banner);
    panel.appendChild(this.notice);
    panel.appendChild(this.list);
    panel.appendChild(this.typing);
    panel.appendChild(form);
    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(root);

    window.addEventListener("online", function () {
      if (!self.stopped && !self.connected) self.connectNow();
    });
    this.applyLanguage();
  };

  Widget.prototype.applyLanguage = function () {
    if (!this.built) return;
    this.root.setAttribute("data-lang", this.lang);
    this.launcherLabel.textContent = this.t("launcher");
    this.titleNode.textContent = this.t("title");
    this.subtitleNode.textContent = this.connected ? this.t("subtitle") : this.t(this.stopped ? "subtitle" : "connecting");
    this.langButton.textContent = this.t("langSwitch");
    this.langButton.title = this.t("langSwitchTitle");
    this.closeButton.title = this.t("close");
    this.closeButton.setAttribute("aria-label", this.t("close"));
    this.panel.setAttribute("aria-label", this.t("title"));
    this.input.placeholder = this.t("placeholder");
    this.sendButton.textContent = this.t("send");
    this.bannerCancel.textContent = this.t("cancel");
    this.renderIntro();
    this.renderState();
    this.rerenderAll();
  };

  Widget.prototype.setLanguage = function (lang, tellServer) {
    if (lang !== "zh" && lang !== "en") return;
    this.lang = lang;
    storageSet("lang", lang);
    this.applyLanguage();
    if (tellServer) this.sendFrame({ type: "language", language: lang });
  };

  Widget.prototype.renderIntro = function () {
    this.intro.textContent = "";
    var bubble = el("div", "mc-intro-text", this.t("welcome"));
    this.intro.appendChild(bubble);
    var claims = this.token ? tokenClaims(this.token) : null;
    if (claims && !claims.m) this.intro.appendChild(el("div", "mc-intro-note", this.t("anonymousNote")));
  };

  // ---------------------------------------------------------------------------------------------
  // Opening, storage, connection
  // ---------------------------------------------------------------------------------------------

  Widget.prototype.open = function (options) {
    options = options || {};
    var storedLang = storageGet("lang");
    var lang = options.lang || storedLang || (document.documentElement.lang || "zh").slice(0, 2);
    this.lang = lang === "en" ? "en" : "zh";
    if (typeof options.getToken === "function") this.getToken = options.getToken;
    this.build();
    if (options.token && options.token !== this.token) {
      this.switchIdentity(options.token);
    } else if (!this.token && !options.token) {
      this.fetchDemoToken();
    }
    this.applyLanguage();
    var show = options.show === undefined ? true : options.show;
    if (show === "auto") show = storageGet("open") === true;
    if (show) this.show();
  };

  /** Anonymous token from data-token-url, for pages that open the widget without one. */
  Widget.prototype.fetchDemoToken = function () {
    var self = this;
    var url = scriptData.tokenUrl;
    if (!this.getToken && typeof window.MemberChatTokenProvider === "function") {
      // The host page knows how to mint (and cache) tokens: use it for refreshes too.
      this.getToken = window.MemberChatTokenProvider;
    }
    if (this.getToken) {
      this.getToken().then(function (token) { if (token) self.switchIdentity(token); }, function () {
        self.showNotice(self.t("error"));
      });
      return;
    }
    if (!url) return;
    fetch(new URL(url, baseUrl).href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ member_id: null }),
      credentials: "same-origin"
    }).then(function (response) {
      if (response.ok) return response.json();
      // A refusal (429 too many tokens from here, ...) carries a polite message in both languages.
      return response.json().then(function (body) { return Promise.reject(body); },
        function () { return Promise.reject(null); });
    }).then(function (data) {
      if (data && data.token) self.switchIdentity(data.token);
    }).catch(function (body) {
      var message = body && (self.lang === "en" ? body.message_en : body.message_zh);
      self.showNotice(message || self.t("error"));
    });
  };

  Widget.prototype.switchIdentity = function (token) {
    this.disconnect();
    this.token = token;
    this.identity = identityKey(token);
    this.conversationId = storageGet("conv:" + this.identity) || null;
    this.messages = {};
    this.maxSeq = 0;
    this.pending = [];
    this.state = { state: "bot", queue_position: null, agent_name: null };
    this.clearMessageNodes();
    this.loadHistory();
    this.renderIntro();
    this.renderState();
    this.stopped = false;
    this.connectNow();
  };

  Widget.prototype.historyKey = function () {
    return this.conversationId ? "hist:" + this.conversationId : null;
  };

  Widget.prototype.loadHistory = function () {
    var key = this.historyKey();
    var stored = key ? storageGet(key) : null;
    if (!stored) return;
    var self = this;
    (stored.messages || []).forEach(function (message) {
      if (message && typeof message.seq === "number") {
        self.messages[message.seq] = message;
        self.maxSeq = Math.max(self.maxSeq, message.seq);
      }
    });
    this.pending = Array.isArray(stored.pending) ? stored.pending.filter(function (p) { return p && p.client_id; }) : [];
    this.marks = stored.csat || {};
    if (stored.state) this.state = stored.state;
    this.rerenderAll();
  };

  Widget.prototype.saveHistory = function () {
    var key = this.historyKey();
    if (!key) return;
    var self = this;
    var seqs = Object.keys(this.messages).map(Number).sort(function (a, b) { return a - b; });
    var kept = seqs.slice(-MAX_STORED).map(function (seq) { return self.messages[seq]; });
    storageSet(key, { messages: kept, pending: this.pending, csat: this.marks, state: this.state });
  };

  Widget.prototype.resetConversation = function (conversationId) {
    var oldKey = this.historyKey();
    if (oldKey && this.conversationId !== conversationId) storageRemove(oldKey);
    var keepPending = this.pending;
    this.conversationId = conversationId;
    if (this.identity) storageSet("conv:" + this.identity, conversationId);
    this.messages = {};
    this.maxSeq = 0;
    this.pending = keepPending;
    this.marks = {};
    this.clearMessageNodes();
    this.saveHistory();
  };

  Widget.prototype.socketUrl = function (afterSeq) {
    var url = new URL("/ws/chat", baseUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token);
    url.searchParams.set("after_seq", String(afterSeq));
    return url.href;
  };

  Widget.prototype.connectNow = function () {
    var self = this;
    if (this.stopped || !this.token) return;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.ws && (this.ws.readyState === 0 || this.ws.readyState === 1)) return;
    var ws;
    try {
      ws = new WebSocket(this.socketUrl(this.maxSeq));
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.gotHello = false;
    this.setStatus(this.retry ? "reconnecting" : "connecting");
    ws.onmessage = function (event) {
      if (ws !== self.ws) return;
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      self.handleFrame(frame);
    };
    ws.onclose = function (event) {
      if (ws !== self.ws) return;
      self.ws = null;
      self.connected = false;
      self.showTyping(null);
      if (self.stopped) return;
      if (!self.gotHello) self.failuresBeforeHello += 1;
      // 4401/4403/1008: the token was refused (expired, forged, other member): get a new one.
      if (event.code === 4401 || event.code === 4403 || event.code === 1008) {
        if (self.getToken && self.failuresBeforeHello <= 6) {
          self.getToken({ refresh: true }).then(function (token) {
            if (token && token !== self.token) {
              self.token = token;
            }
            self.scheduleReconnect();
          }, function () { self.scheduleReconnect(); });
          return;
        }
        self.showNotice(self.t("expired"));
        self.stopped = true;
        self.setStatus("subtitle");
        return;
      }
      self.scheduleReconnect();
    };
    ws.onerror = function () {
      /* onclose follows and schedules the retry */
    };
  };

  Widget.prototype.scheduleReconnect = function () {
    var self = this;
    if (this.stopped || this.retryTimer) return;
    this.setStatus("reconnecting");
    var delay = Math.min(30000, 800 * Math.pow(2, this.retry)) * (0.75 + Math.random() * 0.5);
    this.retry += 1;
    this.retryTimer = setTimeout(function () {
      self.retryTimer = null;
      self.connectNow();
    }, navigator.onLine === false ? Math.max(delay, 3000) : delay);
  };

  Widget.prototype.disconnect = function () {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ws) {
      var ws = this.ws;
      this.ws = null;
      try { ws.close(1000); } catch (e) { /* ignore */ }
    }
    this.connected = false;
  };

  Widget.prototype.sendFrame = function (frame) {
    if (this.ws && this.ws.readyState === 1 && this.connected) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  };

  Widget.prototype.setStatus = function (key) {
    if (!this.built) return;
    this.subtitleNode.textContent = this.t(key);
    this.root.setAttribute("data-connection", key === "subtitle" ? (this.connected ? "open" : "idle") : key);
  };

  Widget.prototype.showNotice = function (text) {
    if (!this.built) return;
    var self = this;
    this.notice.textContent = text;
    this.notice.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(function () { self.notice.hidden = true; }, 6000);
  };

  // ---------------------------------------------------------------------------------------------
  // Frames
  // ---------------------------------------------------------------------------------------------

  Widget.prototype.handleFrame = function (frame) {
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "hello": return this.onHello(frame);
      case "message": return this.onMessage(frame.message);
      case "ack": return this.onAck(frame);
      case "typing": return this.showTyping(frame.on ? (frame.who || "bot") : null, frame.name || frame.agent_name);
      case "state": return this.onState(frame);
      case "csat_ack": return this.onCsatAck(frame);
      case "error": return this.onError(frame);
      case "language": return undefined; // the server confirms the bot's language
      case "pong": return undefined;
      default: return undefined;
    }
  };

  Widget.prototype.onHello = function (frame) {
    var id = frame.conversation_id;
    var serverLast = typeof frame.last_seq === "number" ? frame.last_seq : null;
    if (id && this.conversationId && id !== this.conversationId) {
      // Another conversation than the cached one: start over from seq 0.
      this.resetConversation(id);
      this.reconnectFromZero();
      return;
    }
    if (serverLast !== null && serverLast < this.maxSeq) {
      // The server knows fewer messages than we cached (its store was reset): resync from 0.
      this.resetConversation(id || this.conversationId);
      this.reconnectFromZero();
      return;
    }
    if (id && !this.conversationId) {
      this.conversationId = id;
      if (this.identity) storageSet("conv:" + this.identity, id);
    }
    this.gotHello = true;
    this.connected = true;
    this.retry = 0;
    this.failuresBeforeHello = 0;
    this.setStatus("subtitle");
    this.onState(frame);
    if (frame.language && frame.language !== this.lang) {
      // The UI language (the member's choice or the page's) is the one the bot should answer in.
      this.sendFrame({ type: "language", language: this.lang });
    }
    this.resendPending();
    this.startPing();
  };

  /** Keep idle sockets open through proxies that drop quiet connections. */
  Widget.prototype.startPing = function () {
    var self = this;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(function () {
      if (!self.sendFrame({ type: "ping" })) clearInterval(self.pingTimer);
    }, 25000);
  };

  Widget.prototype.reconnectFromZero = function () {
    var ws = this.ws;
    this.ws = null;
    this.connected = false;
    if (ws) {
      try { ws.close(1000); } catch (e) { /* ignore */ }
    }
    this.connectNow();
  };

  Widget.prototype.resendPending = function () {
    var self = this;
    this.pending.forEach(function (item) {
      self.sendFrame({ type: "message", client_id: item.client_id, text: item.text, payload: item.payload || null });
    });
  };

  Widget.prototype.onMessage = function (message) {
    if (!message || typeof message.seq !== "number") return;
    var isNew = !this.messages[message.seq];
    if (message.client_id) this.dropPending(message.client_id);
    this.messages[message.seq] = message;
    this.maxSeq = Math.max(this.maxSeq, message.seq);
    if (isNew) {
      this.renderMessage(message);
      if (message.sender !== "member") {
        this.showTyping(null);
        if (!this.isOpen) this.bumpUnread();
      }
    } else {
      this.replaceMessage(message);
    }
    this.saveHistory();
  };

  Widget.prototype.onAck = function (frame) {
    if (!frame.client_id) return;
    var item = this.pendingById(frame.client_id);
    if (item && typeof frame.seq === "number" && !this.messages[frame.seq]) {
      // Render the acknowledged message now; the pushed copy with the same seq is then skipped.
      this.onMessage({
        seq: frame.seq, sender: "member", text: item.text, payload: null, client_id: item.client_id,
        created_at: item.created_at, conversation_id: this.conversationId
      });
    } else {
      this.dropPending(frame.client_id);
      this.saveHistory();
    }
  };

  Widget.prototype.onState = function (frame) {
    this.state = {
      state: frame.state || "bot",
      queue_position: frame.queue_position === undefined ? null : frame.queue_position,
      agent_name: frame.agent_name || null
    };
    this.bannerCancel.disabled = false;
    this.renderState();
    this.saveHistory();
  };

  Widget.prototype.onCsatAck = function (frame) {
    var key = frame.handoff_id !== undefined && frame.handoff_id !== null ? "csat:" + frame.handoff_id : (this.lastCsatKey || "last");
    this.marks[key] = frame.score;
    this.saveHistory();
    var self = this;
    Array.prototype.forEach.call(this.list.querySelectorAll("[data-csat-key]"), function (node) {
      if (node.getAttribute("data-csat-key") === key) self.fillCsat(node, frame.score);
    });
  };

  Widget.prototype.onError = function (frame) {
    var message = this.lang === "en" ? (frame.message_en || frame.message_zh) : (frame.message_zh || frame.message_en);
    if (frame.code === "too_long") {
      message = message || this.t("tooLong");
      var self = this;
      this.pending.filter(function (p) { return (frame.client_id && p.client_id === frame.client_id) || String(p.text).length > MAX_TEXT; })
        .forEach(function (p) { self.dropPending(p.client_id); });
    } else if (frame.client_id && this.pendingById(frame.client_id)) {
      // The server refused this message for good: do not resend it forever.
      this.dropPending(frame.client_id);
    }
    this.showNotice(message || this.t("error"));
    this.saveHistory();
  };

  // ---------------------------------------------------------------------------------------------
  // Sending
  // ---------------------------------------------------------------------------------------------

  Widget.prototype.submitInput = function () {
    var text = this.input.value.replace(/\s+$/, "").replace(/^\s+/, "");
    if (!text) return;
    if (text.length > MAX_TEXT) {
      this.showNotice(this.t("tooLong"));
      return;
    }
    this.input.value = "";
    this.input.style.height = "auto";
    this.sendText(text, null);
  };

  Widget.prototype.sendText = function (text, payload) {
    if (!this.token) return;
    var item = { client_id: newClientId(), text: String(text), payload: payload || null, created_at: new Date().toISOString() };
    this.pending.push(item);
    this.renderPending(item);
    this.saveHistory();
    if (!this.sendFrame({ type: "message", client_id: item.client_id, text: item.text, payload: item.payload })) {
      if (navigator.onLine === false) this.showNotice(this.t("offline"));
      if (!this.ws && !this.retryTimer && !this.stopped) this.connectNow();
    }
  };

  Widget.prototype.pendingById = function (clientId) {
    for (var i = 0; i < this.pending.length; i += 1) {
      if (this.pending[i].client_id === clientId) return this.pending[i];
    }
    return null;
  };

  Widget.prototype.dropPending = function (clientId) {
    this.pending = this.pending.filter(function (p) { return p.client_id !== clientId; });
    var node = this.list.querySelector('[data-pending-id="' + cssEscape(clientId) + '"]');
    if (node) node.remove();
  };

  function cssEscape(value) {
    if (window.CSS && typeof window.CSS.escape === "function") return window.CSS.escape(value);
    return String(value).replace(/[^a-zA-Z0-9_-]/g, "\\$&");
  }

  // ---------------------------------------------------------------------------------------------
  // Showing and hiding
  // ---------------------------------------------------------------------------------------------

  Widget.prototype.show = function () {
    this.build();
    this.panel.hidden = false;
    this.root.classList.add("mc-open");
    this.isOpen = true;
    storageSet("open", true);
    this.unread = 0;
    this.badge.hidden = true;
    this.scrollToEnd();
    var input = this.input;
    setTimeout(function () { input.focus(); }, 30);
  };

  Widget.prototype.close = function () {
    if (!this.built) return;
    this.panel.hidden = true;
    this.root.classList.remove("mc-open");
    this.isOpen = false;
    storageSet("open", false);
  };

  Widget.prototype.toggle = function () {
    if (this.isOpen) {
      this.close();
      return;
    }
    if (!this.token) this.fetchDemoToken();
    this.show();
  };

  Widget.prototype.bumpUnread = function () {
    this.unread += 1;
    this.badge.textContent = String(this.unread > 99 ? "99+" : this.unread);
    this.badge.hidden = false;
  };

  Widget.prototype.scrollToEnd = function () {
    var list = this.list;
    list.scrollTop = list.scrollHeight;
  };

  Widget.prototype.showTyping = function (who, name) {
    if (!this.built) return;
    var self = this;
    clearTimeout(this.typingTimer);
    if (!who) {
      this.typing.hidden = true;
      return;
    }
    this.typingText.textContent = who === "agent"
      ? this.t("typingAgent", { name: name || this.state.agent_name || this.t("agentFallback") })
      : this.t("typingBot");
    this.typing.hidden = false;
    this.typing.setAttribute("data-who", who);
    this.scrollToEnd();
    // Never leave a stale indicator behind if the "off" frame is lost.
    this.typingTimer = setTimeout(function () { self.typing.hidden = true; }, 20000);
  };

  Widget.prototype.renderState = function () {
    if (!this.built) return;
    var state = this.state || {};
    this.banner.setAttribute("data-state", state.state || "bot");
    if (state.state === "queued") {
      this.bannerText.textContent = state.queue_position
        ? this.t("queued", { n: state.queue_position })
        : this.t("queuedNoPos");
      this.bannerCancel.hidden = false;
      this.banner.hidden = false;
    } else if (state.state === "assigned") {
      this.bannerText.textContent = this.t("assigned", { name: state.agent_name || this.t("agentFallback") });
      this.bannerCancel.hidden = true;
      this.banner.hidden = false;
    } else {
      this.banner.hidden = true;
    }
  };

  // ---------------------------------------------------------------------------------------------
  // Rendering messages
  // ---------------------------------------------------------------------------------------------

  Widget.prototype.clearMessageNodes = function () {
    if (!this.built) return;
    Array.prototype.slice.call(this.list.children).forEach(function (child) {
      if (!child.classList.contains("mc-intro")) child.remove();
    });
  };

  Widget.prototype.rerenderAll = function () {
    if (!this.built) return;
    var self = this;
    this.clearMessageNodes();
    Object.keys(this.messages).map(Number).sort(function (a, b) { return a - b; }).forEach(function (seq) {
      self.renderMessage(self.messages[seq], true);
    });
    this.pending.forEach(function (item) { self.renderPending(item, true); });
    this.scrollToEnd();
  };

  /** Insert a node so that the list stays ordered by seq (pending messages stay last). */
  Widget.prototype.insertBySeq = function (node, seq) {
    var children = this.list.children;
    for (var i = 0; i < children.length; i += 1) {
      var child = children[i];
      if (child.hasAttribute("data-pending-id")) {
        this.list.insertBefore(node, child);
        return;
      }
      var other = Number(child.getAttribute("data-seq"));
      if (child.hasAttribute("data-seq") && other > seq) {
        this.list.insertBefore(node, child);
        return;
      }
    }
    this.list.appendChild(node);
  };

  Widget.prototype.renderPending = function (item, bulk) {
    if (!this.built) return;
    var row = this.memberRow(item.text, item.created_at);
    row.setAttribute("data-pending-id", item.client_id);
    row.classList.add("mc-pending");
    var status = el("span", "mc-status", this.t("sending"), { "data-testid": "msg-pending" });
    row.querySelector(".mc-meta").appendChild(status);
    this.list.appendChild(row);
    if (!bulk) this.scrollToEnd();
  };

  Widget.prototype.memberRow = function (text, createdAt) {
    var row = el("div", "mc-row mc-row-member", null, { "data-testid": "msg-member" });
    var body = el("div", "mc-body");
    body.appendChild(el("div", "mc-bubble", text, { "data-testid": "msg-text" }));
    var meta = el("div", "mc-meta");
    meta.appendChild(el("time", "mc-time", timeLabel(createdAt), { datetime: createdAt || "" }));
    body.appendChild(meta);
    row.appendChild(body);
    return row;
  };

  Widget.prototype.replaceMessage = function (message) {
    var old = this.list.querySelector('[data-seq="' + message.seq + '"]');
    if (!old) {
      this.renderMessage(message);
      return;
    }
    var fresh = this.buildMessage(message);
    if (fresh) old.replaceWith(fresh);
  };

  Widget.prototype.renderMessage = function (message, bulk) {
    if (!this.built) return;
    if (this.list.querySelector('[data-seq="' + message.seq + '"]')) return;
    var node = this.buildMessage(message);
    if (!node) return;
    this.insertBySeq(node, message.seq);
    if (!bulk) this.scrollToEnd();
  };

  Widget.prototype.buildMessage = function (message) {
    var sender = message.sender;
    var payload = message.payload && typeof message.payload === "object" ? message.payload : null;
    var node;
    if (sender === "member") {
      node = this.memberRow(displayText(message.text, payload, this.lang), message.created_at);
    } else if (sender === "system") {
      node = el("div", "mc-row mc-row-system", null, { "data-testid": "msg-system" });
      var systemText = displayText(message.text, payload, this.lang);
      if (systemText) node.appendChild(el("div", "mc-system-text", systemText, { "data-testid": "msg-text" }));
      if (payload && payload.type === "csat_request") node.appendChild(this.buildCsat(payload, message));
    } else {
      var isAgent = sender === "agent";
      var name = isAgent ? (message.agent_name || this.state.agent_name || this.t("agentFallback")) : this.t("botName");
      node = el("div", "mc-row mc-row-" + (isAgent ? "agent" : "bot"), null, { "data-testid": isAgent ? "msg-agent" : "msg-bot" });
      var avatar = el("div", "mc-avatar" + (isAgent ? " mc-avatar-agent" : ""), isAgent ? initials(name, "客") : "AI", { "aria-hidden": "true" });
      var body = el("div", "mc-body");
      body.appendChild(el("div", "mc-name", name));
      var text = displayText(message.text, payload, this.lang);
      if (text) body.appendChild(el("div", "mc-bubble", text, { "data-testid": "msg-text" }));
      if (payload) this.appendPayload(body, payload, message);
      // Nothing to show (a data-only payload such as a hand-off notice): no empty bubble.
      if (body.children.length === 1) return null;
      var meta = el("div", "mc-meta");
      meta.appendChild(el("time", "mc-time", timeLabel(message.created_at), { datetime: message.created_at || "" }));
      body.appendChild(meta);
      node.appendChild(avatar);
      node.appendChild(body);
    }
    node.setAttribute("data-seq", String(message.seq));
    return node;
  };

  /**
   * The message text; when cards show the items, the one-line-per-item list the bot wrote for
   * text-only channels is left out (the actions write exactly one row per item after the header).
   */
  function displayText(text, payload, lang) {
    var value = text === undefined || text === null ? "" : String(text);
    // System texts of the web app come in both languages: show the UI's.
    if (payload && (payload.text_zh || payload.text_en)) value = String(payload["text_" + lang] || payload.text_zh || payload.text_en);
    if (!payload || !CARD_TYPES[payload.type] || !Array.isArray(payload.items) || !payload.items.length) return value;
    var lines = value.split("\n");
    var count = payload.items.length;
    if (lines.length > count) return lines.slice(0, lines.length - count).join("\n");
    return value;
  }

  Widget.prototype.appendPayload = function (body, payload, message) {
    var type = payload.type;
    var items = Array.isArray(payload.items) ? payload.items : [];
    var buttons = Array.isArray(payload.buttons) ? payload.buttons.filter(function (b) { return b && (b.title || b.payload); }) : [];
    var usedButtons = {};
    var self = this;
    if (type === "product_cards" && items.length) {
      var strip = el("div", "mc-cards", null, { "data-testid": "product-cards" });
      items.forEach(function (item) { strip.appendChild(self.productCard(item)); });
      body.appendChild(strip);
    } else if ((type === "coupon_cards" || type === "coupon_offers") && items.length) {
      var list = el("div", "mc-coupons", null, { "data-testid": type === "coupon_offers" ? "coupon-offers" : "coupon-cards" });
      items.forEach(function (item, index) {
        var claimButton = null;
        if (type === "coupon_offers") {
          claimButton = findClaimButton(buttons, item, index);
          if (claimButton) usedButtons[buttons.indexOf(claimButton)] = true;
        }
        list.appendChild(self.couponCard(item, type === "coupon_offers", claimButton, message));
      });
      body.appendChild(list);
    } else if (type === "coupon_claim" && payload.coupon) {
      var claimed = el("div", "mc-coupons", null, { "data-testid": "coupon-claimed" });
      claimed.appendChild(this.couponCard(payload.coupon, false, null, message, true));
      body.appendChild(claimed);
    } else if (type === "csat_request") {
      body.appendChild(this.buildCsat(payload, message));
    } else if (type === "privacy_export" && typeof payload.url === "string" && payload.url.indexOf("/api/me/") === 0) {
      body.appendChild(this.exportButton(payload));
    }
    var rest = buttons.filter(function (b, index) { return !usedButtons[index]; });
    if (rest.length) {
      var replies = el("div", "mc-quick", null, { "data-testid": "quick-replies" });
      rest.forEach(function (button) {
        var title = String(button.title || button.payload);
        var node = el("button", "mc-quick-button", title, { type: "button", "data-testid": "quick-reply" });
        node.addEventListener("click", function () {
          self.sendText(title, button.payload || null);
        });
        replies.appendChild(node);
      });
      body.appendChild(replies);
    }
  };

  /** "Download my data": fetches the member's own export with the widget's token and saves it. */
  Widget.prototype.exportButton = function (payload) {
    var self = this;
    var title = String(payload["title_" + this.lang] || payload.title_zh || "下载我的数据");
    var node = el("button", "mc-quick-button", title, { type: "button", "data-testid": "privacy-export" });
    node.addEventListener("click", function () {
      if (!self.token || !window.fetch) return;
      node.disabled = true;
      fetch(payload.url, { headers: { Authorization: "Bearer " + self.token }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.blob() : Promise.reject(response.status); })
        .then(function (blob) {
          var link = document.createElement("a");
          link.href = URL.createObjectURL(blob);
          link.download = "member-data.json";
          document.body.appendChild(link);
          link.click();
          setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
          node.disabled = false;
        }, function () {
          node.textContent = self.lang === "en" ? "Download failed, tap to retry" : "下载失败，点击重试";
          node.disabled = false;
        });
    });
    var wrap = el("div", "mc-quick", null, { "data-testid": "privacy-export-wrap" });
    wrap.appendChild(node);
    return wrap;
  };

  /** The 领取 button of an offer: the button whose payload names the offer's template. */
  function findClaimButton(buttons, item, index) {
    var id = item && item.template_id ? String(item.template_id) : "";
    for (var i = 0; i < buttons.length; i += 1) {
      var payload = String(buttons[i].payload || "");
      if (id && payload.indexOf("/ask_coupons") === 0 && payload.indexOf('"' + id + '"') !== -1) return buttons[i];
    }
    if (id) {
      return { title: null, payload: "/ask_coupons" + JSON.stringify({ coupon_template: id }) };
    }
    return buttons[index] || null;
  }

  Widget.prototype.productCard = function (item) {
    var lang = this.lang;
    var title = pick(item, "title", lang) || pick(item, "name", lang) || String(item.sku || "");
    var card = el("article", "mc-product", null, { "data-testid": "product-card", "data-sku": item.sku || "" });
    var category = pick(item, "category", lang);
    var thumb = el("div", "mc-product-thumb", (pick(item, "brand", lang) || category || title).slice(0, 2), { "aria-hidden": "true" });
    thumb.setAttribute("data-hue", String(hashHue(item.category || title)));
    thumb.style.setProperty("--mc-thumb-hue", String(hashHue(item.category || title)));
    card.appendChild(thumb);
    var info = el("div", "mc-product-info");
    info.appendChild(el("div", "mc-product-title", title, { "data-testid": "product-title" }));
    var brand = pick(item, "brand", lang);
    if (brand || category) info.appendChild(el("div", "mc-product-sub", [brand, category].filter(Boolean).join(" · ")));
    if (item.price !== undefined && item.price !== null) {
      info.appendChild(el("div", "mc-product-price", this.t("price", { p: money(item.price) }), { "data-testid": "product-price" }));
    }
    var reason = pick(item, "reason", lang);
    // "reason" without a language suffix is a code (personal, similar, new, popular): prefer the text.
    if (reason && /^[a-z_]+$/.test(reason) && (item.reason_zh || item.reason_en)) reason = item.reason_zh || item.reason_en;
    if (reason) info.appendChild(el("div", "mc-product-reason", reason, { "data-testid": "product-reason" }));
    card.appendChild(info);
    return card;
  };

  function hashHue(text) {
    var hash = 0;
    var value = String(text || "");
    for (var i = 0; i < value.length; i += 1) hash = (hash * 31 + value.charCodeAt(i)) % 360;
    return hash;
  }

  Widget.prototype.couponValue = function (item) {
    var value = Number(item.value);
    if (item.kind === "percent_off" && isFinite(value)) {
      var pay = Math.round(100 - value);
      return this.lang === "en" ? money(value) + "% off" : String(pay % 10 === 0 ? pay / 10 : pay) + "折";
    }
    return isFinite(value) ? "¥" + money(value) : "";
  };

  Widget.prototype.couponCard = function (item, isOffer, claimButton, message, justClaimed) {
    var self = this;
    var lang = this.lang;
    var card = el("article", "mc-coupon" + (isOffer ? " mc-coupon-offer" : ""), null, {
      "data-testid": "coupon-card", "data-template": item.template_id || ""
    });
    var left = el("div", "mc-coupon-value");
    left.appendChild(el("div", "mc-coupon-amount", this.couponValue(item)));
    var min = Number(item.min_spend);
    left.appendChild(el("div", "mc-coupon-min", min > 0 ? this.t("minSpend", { m: money(min) }) : this.t("noMinimum")));
    card.appendChild(left);
    var mid = el("div", "mc-coupon-info");
    mid.appendChild(el("div", "mc-coupon-title", pick(item, "title", lang), { "data-testid": "coupon-title" }));
    var summary = pick(item, "summary", lang);
    if (summary) mid.appendChild(el("div", "mc-coupon-summary", summary));
    var scope = item.category ? this.t("only", { c: pick(item, "category", lang) }) : this.t("storeWide");
    mid.appendChild(el("div", "mc-coupon-scope", scope));
    if (isOffer) {
      var reason = pick(item, "reason", lang);
      if (reason && /^[a-z_]+$/.test(reason) && (item.reason_zh || item.reason_en)) reason = item.reason_zh || item.reason_en;
      if (reason) mid.appendChild(el("div", "mc-coupon-reason", reason));
    }
    if (item.valid_until) mid.appendChild(el("div", "mc-coupon-until", this.t("validUntil", { d: dateLabel(item.valid_until) })));
    if (item.code) mid.appendChild(el("div", "mc-coupon-code", this.t("code", { c: item.code })));
    card.appendChild(mid);
    var side = el("div", "mc-coupon-action");
    if (isOffer && claimButton) {
      var claimedKey = "claimed:" + (item.template_id || "") + ":" + (message && message.seq);
      var button = el("button", "mc-claim", this.t("claim"), { type: "button", "data-testid": "claim-button" });
      if (this.marks[claimedKey]) {
        button.disabled = true;
        button.textContent = this.t("claimed");
      }
      button.addEventListener("click", function () {
        if (button.disabled) return;
        button.disabled = true;
        button.textContent = self.t("claiming");
        var title = claimButton.title || (self.t("claim") + " " + (pick(item, "summary", self.lang) || pick(item, "title", self.lang)));
        self.sendText(title, claimButton.payload);
        self.marks[claimedKey] = true;
        self.saveHistory();
      });
      side.appendChild(button);
    } else {
      side.appendChild(el("span", "mc-coupon-badge", justClaimed ? this.t("claimed") : this.t("inWallet")));
    }
    card.appendChild(side);
    return card;
  };

  Widget.prototype.buildCsat = function (payload, message) {
    var self = this;
    var key = "csat:" + (payload.handoff_id !== undefined && payload.handoff_id !== null ? payload.handoff_id : message.seq);
    var box = el("div", "mc-csat", null, { "data-testid": "csat", "data-csat-key": key });
    box.appendChild(el("div", "mc-csat-ask", this.t("csatAsk")));
    var stars = el("div", "mc-stars", null, { role: "radiogroup", "aria-label": this.t("csatAsk") });
    var scale = Array.isArray(payload.scale) && payload.scale.length ? payload.scale : [1, 2, 3, 4, 5];
    scale.forEach(function (score) {
      var star = el("button", "mc-star", "★", {
        type: "button", "data-testid": "csat-star-" + score, "data-score": score,
        "aria-label": self.t("csatStar", { n: score }), title: self.t("csatStar", { n: score })
      });
      star.addEventListener("mouseenter", function () { highlight(stars, score); });
      star.addEventListener("mouseleave", function () { highlight(stars, Number(box.getAttribute("data-score") || 0)); });
      star.addEventListener("click", function () {
        if (box.classList.contains("mc-csat-done")) return;
        self.lastCsatKey = key;
        var csatFrame = { type: "csat", score: score };
        if (payload.handoff_id !== undefined && payload.handoff_id !== null) csatFrame.handoff_id = payload.handoff_id;
        if (self.sendFrame(csatFrame)) {
          box.setAttribute("data-score", String(score));
          highlight(stars, score);
        } else {
          self.showNotice(self.t("reconnecting"));
        }
      });
      stars.appendChild(star);
    });
    box.appendChild(stars);
    box.appendChild(el("div", "mc-csat-thanks", null, { "data-testid": "csat-thanks" }));
    if (this.marks[key]) this.fillCsat(box, this.marks[key]);
    return box;
  };

  function highlight(stars, score) {
    Array.prototype.forEach.call(stars.children, function (star) {
      star.classList.toggle("mc-star-on", Number(star.getAttribute("data-score")) <= score);
    });
  }

  Widget.prototype.fillCsat = function (box, score) {
    box.classList.add("mc-csat-done");
    box.setAttribute("data-score", String(score));
    var stars = box.querySelector(".mc-stars");
    if (stars) {
      highlight(stars, score);
      Array.prototype.forEach.call(stars.children, function (star) { star.disabled = true; });
    }
    var thanks = box.querySelector(".mc-csat-thanks");
    if (thanks) thanks.textContent = this.t("csatThanks");
  };

  // ------------------------------------------------------------------------------------------
  // Public API
  // ------------------------------------------------------------------------------------------

  var widget = new Widget();

  window.MemberChat = {
    __loaded: true,
    /** Open the widget for a member (or visitor) token; lang "zh" | "en". */
    open: function (options) { widget.open(options || {}); },
    close: function () { widget.close(); },
    setLanguage: function (lang) { widget.setLanguage(lang, true); },
    /** Forget the current identity (e.g. after the shop's logout); keeps nothing open. */
    reset: function () {
      widget.disconnect();
      widget.token = null;
      widget.identity = null;
      widget.conversationId = null;
      widget.messages = {};
      widget.pending = [];
      widget.maxSeq = 0;
      widget.state = { state: "bot", queue_position: null, agent_name: null };
      if (widget.built) {
        widget.clearMessageNodes();
        widget.renderState();
      }
    },
    /** For tests and debugging: the conversation id and the highest seq seen. */
    info: function () {
      return { conversation_id: widget.conversationId, max_seq: widget.maxSeq, pending: widget.pending.length, connected: widget.connected, lang: widget.lang };
    }
  };

  function boot() {
    // Show the launcher at once; pages that know the member call MemberChat.open({token}).
    widget.lang = (storageGet("lang") || scriptData.lang || (document.documentElement.lang || "zh")).slice(0, 2) === "en" ? "en" : "zh";
    widget.build();
    if (scriptData.autoOpen === "true") widget.open({});
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", boot);
  } else {
    boot();
  }
})();
