/*
 * Agent console (plain JavaScript). Talks to:
 *   GET  /agent/api/me, /agent/api/queue, /agent/api/mine, /agent/api/agents,
 *        /agent/api/conversations/{cid}
 *   POST /agent/api/handoffs/{hid}/claim | /transfer {to_agent} | /resolve,
 *        /agent/api/conversations/{cid}/reply {text} | /goodwill {amount}
 *        (every POST carries X-CSRF-Token = the desk_csrf cookie)
 *   WS   /ws/agent: hello, queue, message, message_update, handoff, error, pong; sends ping.
 * Everything from the server reaches the page through textContent.
 */
(function () {
  "use strict";

  var STRINGS = {
    zh: {
      consoleTitle: "客服工作台", connecting: "连接中", online: "在线", offline: "已断开，重连中",
      langSwitch: "EN", logout: "退出", queue: "排队中", mine: "我的会话", queueEmpty: "暂无排队的会员",
      mineEmpty: "还没有接入的会话", pickConversation: "从左侧选择一个会话，或接入排队中的会员",
      claim: "接入", transfer: "转接", resolve: "结束服务", goodwill: "发补偿券", send: "发送",
      replyPlaceholder: "输入回复，Enter 发送，Shift+Enter 换行", profile: "会员档案",
      noProfile: "选择会话后显示会员档案", anonymous: "匿名访客", anonymousProfile: "匿名访客：没有会员档案。",
      waiting: "已等待 {t}", minutes: "{m}分{s}秒", seconds: "{s}秒", hours: "{h}小时{m}分",
      score: "优先级 {n}", transferTo: "转接给…", noTransferTarget: "没有可转接的客服",
      goodwillAmount: "¥{n}", goodwillNone: "无发券额度", member: "会员", bot: "智能助手", system: "系统",
      agentLabel: "客服", statusQueued: "排队中", statusAssigned: "{name} 服务中", statusBot: "智能助手服务中",
      statusResolved: "已结束", notYours: "该会话由 {name} 服务，只能查看", mustClaim: "请先接入该会话再回复",
      claimed: "已接入会话", transferred: "已转接给 {name}", resolvedToast: "已结束服务，已邀请会员评价",
      goodwillSent: "已发送 ¥{n} 补偿券", sentFail: "发送失败", forbidden: "您无权查看该会话",
      tier: "等级", points: "积分", expiring: "即将过期", segment: "会员分群", lifecycle: "生命周期",
      churn: "流失风险", orders: "近期订单", coupons: "可用优惠券", recommendations: "推荐商品",
      basics: "基本信息", phone: "手机", city: "城市", language: "语言", memberId: "会员号", none: "无",
      other: "其他信息", consentOff: "已关闭个性化", progress: "升级进度", sentimentPending: "分析中",
      unread: "新消息", lastMessage: "最新消息", intent: "意图", minePlaceholder: "",
      confirmResolve: "确定结束本次人工服务？", wsLost: "实时连接已断开，正在重连…",
      lifecycle_new: "新会员", lifecycle_active: "活跃", lifecycle_dormant: "沉睡",
      reason_member_request: "主动要求人工", reason_complaint: "投诉", reason_negative_emotion: "情绪激动",
      reason_repeated_fallback: "连续未识别", reason_top_tier: "高等级会员", reason_vip: "高等级会员",
      emotion_anger: "愤怒", emotion_anxiety: "焦虑", emotion_disappointment: "失望", emotion_joy: "开心",
      emotion_neutral: "中性",
      tier_normal: "普通会员", tier_silver: "银卡会员", tier_gold: "金卡会员", tier_diamond: "钻石会员"
    },
    en: {
      consoleTitle: "Agent console", connecting: "Connecting", online: "Online", offline: "Disconnected, retrying",
      langSwitch: "中文", logout: "Sign out", queue: "Queue", mine: "My conversations", queueEmpty: "Nobody is waiting",
      mineEmpty: "No conversations assigned to you", pickConversation: "Pick a conversation on the left or take one from the queue",
      claim: "Claim", transfer: "Transfer", resolve: "Resolve", goodwill: "Goodwill coupon", send: "Send",
      replyPlaceholder: "Type a reply; Enter sends, Shift+Enter for a new line", profile: "Member profile",
      noProfile: "The member's profile shows here", anonymous: "Anonymous visitor", anonymousProfile: "Anonymous visitor: no member profile.",
      waiting: "Waiting {t}", minutes: "{m}m {s}s", seconds: "{s}s", hours: "{h}h {m}m",
      score: "Priority {n}", transferTo: "Transfer to…", noTransferTarget: "No agent to transfer to",
      goodwillAmount: "¥{n}", goodwillNone: "No goodwill allowance", member: "Member", bot: "Assistant", system: "System",
      agentLabel: "Agent", statusQueued: "Queued", statusAssigned: "With {name}", statusBot: "With the assistant",
      statusResolved: "Resolved", notYours: "{name} is serving this conversation (read only)", mustClaim: "Claim the conversation to reply",
      claimed: "Conversation claimed", transferred: "Transferred to {name}", resolvedToast: "Resolved; the member was asked to rate it",
      goodwillSent: "¥{n} goodwill coupon sent", sentFail: "Could not send", forbidden: "You may not view this conversation",
      tier: "Tier", points: "Points", expiring: "Expiring", segment: "Segment", lifecycle: "Lifecycle",
      churn: "Churn risk", orders: "Recent orders", coupons: "Usable coupons", recommendations: "Recommendations",
      basics: "Basics", phone: "Phone", city: "City", language: "Language", memberId: "Member ID", none: "None",
      other: "More", consentOff: "Opted out of personalization", progress: "Tier progress", sentimentPending: "analysing",
      unread: "new", lastMessage: "Last message", intent: "Intent", minePlaceholder: "",
      confirmResolve: "Resolve this conversation?", wsLost: "Live connection lost, reconnecting…",
      lifecycle_new: "New", lifecycle_active: "Active", lifecycle_dormant: "Dormant",
      reason_member_request: "Asked for an agent", reason_complaint: "Complaint", reason_negative_emotion: "Upset",
      reason_repeated_fallback: "Bot did not understand twice", reason_top_tier: "Top-tier member", reason_vip: "Top-tier member",
      emotion_anger: "Angry", emotion_anxiety: "Anxious", emotion_disappointment: "Disappointed", emotion_joy: "Happy",
      emotion_neutral: "Neutral",
      tier_normal: "Member", tier_silver: "Silver", tier_gold: "Gold", tier_diamond: "Diamond"
    }
  };
  var EMOJI = { anger: "😠", anxiety: "😟", disappointment: "😞", joy: "😊", neutral: "😐" };
  var GOODWILL_STEPS = [5, 10, 20, 30, 50, 100];
  var KNOWN_PANEL_KEYS = [
    "anonymous", "member_id", "name", "masked_phone", "city", "preferred_language", "tier", "tier_progress", "points",
    "segment", "lifecycle", "churn_risk", "profile_computed_at", "recent_orders", "orders", "coupons", "usable_coupons",
    "consent_personalization", "recommendations", "recommendations_note_zh", "recommendations_note_en"
  ];

  var body = document.body;
  var state = {
    lang: body.getAttribute("data-lang") === "en" ? "en" : "zh",
    me: {
      agent_id: body.getAttribute("data-agent-id") ? Number(body.getAttribute("data-agent-id")) : undefined,
      display_name: body.getAttribute("data-agent-name") || "",
      username: body.getAttribute("data-agent-username") || "",
      role: body.getAttribute("data-agent-role") || "",
      goodwill_limit: body.getAttribute("data-goodwill-limit") || ""
    },
    queue: [],
    mine: [],
    agents: [],
    unread: {},
    // Frames for a conversation that is being opened (its GET is in flight), by seq.
    loading: null,
    pending: {},
    current: null, // {cid, conversation, handoff, messages: {seq: msg}, panel, suggestions}
    ws: null,
    retry: 0,
    receivedAt: Date.now()
  };

  // ------------------------------------------------------------------------------------------
  // Helpers
  // ------------------------------------------------------------------------------------------

  function $(testid, root) {
    return (root || document).querySelector('[data-testid="' + testid + '"]');
  }

  function t(key, values) {
    var table = STRINGS[state.lang] || STRINGS.zh;
    var text = table[key] !== undefined ? table[key] : (STRINGS.zh[key] !== undefined ? STRINGS.zh[key] : key);
    return String(text).replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined && values[name] !== null ? String(values[name]) : all;
    });
  }

  function label(prefix, code) {
    if (code === undefined || code === null || code === "") return "";
    var key = prefix + "_" + code;
    var table = STRINGS[state.lang];
    return table[key] !== undefined ? table[key] : String(code);
  }

  var el = window.DeskDom.el;  // web/static/dom.js

  function pick(item, field) {
    if (!item) return "";
    var value = item[field + "_" + state.lang];
    if (value === undefined || value === null || value === "") value = item[field + "_zh"];
    if (value === undefined || value === null || value === "") value = item[field];
    if (value && typeof value === "object") value = value["name_" + state.lang] || value.name_zh || value.name || value.code || "";
    return value === undefined || value === null ? "" : String(value);
  }

  function money(value) {
    var number = Number(value);
    if (!isFinite(number)) return String(value);
    return "¥" + (number === Math.round(number) ? String(Math.round(number)) : number.toFixed(2));
  }

  function timeLabel(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    var hm = ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
    return date.toDateString() === new Date().toDateString() ? hm : (date.getMonth() + 1) + "/" + date.getDate() + " " + hm;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    if (h) return t("hours", { h: h, m: m });
    if (m) return t("minutes", { m: m, s: s });
    return t("seconds", { s: s });
  }

  var csrfToken = window.DeskDom.csrfToken;  // web/static/dom.js

  var toast = window.DeskDom.toast;  // web/static/dom.js

  function errorText(data, fallback) {
    if (data && (data.message_zh || data.message_en)) {
      return state.lang === "en" ? (data.message_en || data.message_zh) : (data.message_zh || data.message_en);
    }
    return fallback || t("sentFail");
  }

  /** JSON API call; rejects with {status, data} and sends a logged-out agent to the login page. */
  function api(method, path, payload) {
    var headers = { Accept: "application/json" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = csrfToken();
    }
    return fetch(path, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: payload === undefined ? undefined : JSON.stringify(payload)
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (response.status === 401) {
          window.location.href = "/agent/login";
        }
        if (!response.ok) return Promise.reject({ status: response.status, data: data });
        return data;
      });
    });
  }

  function items(data) {
    if (Array.isArray(data)) return data;
    return (data && (data.items || data.agents)) || [];
  }

  function isMine(handoff) {
    return Boolean(handoff && handoff.status === "assigned" &&
      ((state.me.agent_id !== undefined && handoff.agent_id === state.me.agent_id) ||
        (!state.me.agent_id && handoff.agent_name && handoff.agent_name === state.me.display_name)));
  }

  // ------------------------------------------------------------------------------------------
  // Language
  // ------------------------------------------------------------------------------------------

  function applyLanguage() {
    document.documentElement.setAttribute("lang", state.lang === "en" ? "en" : "zh-CN");
    document.documentElement.setAttribute("data-lang", state.lang);
    document.title = t("consoleTitle");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-placeholder]"), function (node) {
      node.setAttribute("placeholder", t(node.getAttribute("data-i18n-placeholder")));
    });
    setConnection(state.ws && state.ws.readyState === 1 ? "online" : (state.retry ? "offline" : "connecting"));
    renderQueue();
    renderMine();
    if (state.current) renderConversation();
  }

  // ------------------------------------------------------------------------------------------
  // Queue and my conversations
  // ------------------------------------------------------------------------------------------

  function chip(text, className, attrs) {
    return el("span", "chip " + (className || ""), text, attrs);
  }

  function waitingSeconds(item) {
    var base = Number(item.waiting_seconds) || 0;
    return base + (Date.now() - (item.__received || state.receivedAt)) / 1000;
  }

  function renderQueue() {
    var list = $("queue-list");
    list.textContent = "";
    state.queue.forEach(function (item) {
      var li = el("li", "item" + (state.current && state.current.cid === item.conversation_id ? " active" : ""), null, {
        "data-testid": "queue-item", "data-handoff-id": item.handoff_id, "data-conversation-id": item.conversation_id
      });
      var top = el("div", "item-top");
      top.appendChild(el("strong", "item-name", item.member_name_masked || (item.member_id ? item.member_id : t("anonymous"))));
      if (item.tier) top.appendChild(chip(label("tier", item.tier), "tier tier-" + item.tier, { "data-testid": "queue-tier" }));
      li.appendChild(top);
      var tags = el("div", "item-tags");
      if (item.reason) tags.appendChild(chip(label("reason", item.reason), "reason", { "data-testid": "queue-reason" }));
      if (item.emotion) {
        tags.appendChild(chip((EMOJI[item.emotion] || "") + " " + label("emotion", item.emotion), "emotion emotion-" + item.emotion,
          { "data-testid": "queue-emotion" }));
      }
      if (item.score !== undefined && item.score !== null) tags.appendChild(chip(t("score", { n: item.score }), "score"));
      li.appendChild(tags);
      if (item.last_message) li.appendChild(el("div", "item-last", item.last_message));
      var bottom = el("div", "item-bottom");
      bottom.appendChild(el("span", "item-wait", t("waiting", { t: duration(waitingSeconds(item)) }), { "data-testid": "queue-wait" }));
      var claim = el("button", "primary small", t("claim"), { type: "button", "data-testid": "claim" });
      claim.addEventListener("click", function (event) {
        event.stopPropagation();
        claimHandoff(item.handoff_id, claim);
      });
      bottom.appendChild(claim);
      li.appendChild(bottom);
      li.addEventListener("click", function () { openConversation(item.conversation_id); });
      list.appendChild(li);
    });
    $("queue-count").textContent = String(state.queue.length);
    $("queue-empty").hidden = state.queue.length > 0;
  }

  function renderMine() {
    var list = $("mine-list");
    list.textContent = "";
    state.mine.forEach(function (item) {
      var active = state.current && state.current.cid === item.conversation_id;
      var li = el("li", "item" + (active ? " active" : ""), null, {
        "data-testid": "mine-item", "data-handoff-id": item.handoff_id, "data-conversation-id": item.conversation_id
      });
      var top = el("div", "item-top");
      top.appendChild(el("strong", "item-name", item.member_name_masked || (item.member_id ? item.member_id : t("anonymous"))));
      if (item.tier) top.appendChild(chip(label("tier", item.tier), "tier tier-" + item.tier));
      var unread = state.unread[item.conversation_id];
      if (unread && !active) top.appendChild(chip(String(unread), "unread", { "data-testid": "mine-unread" }));
      li.appendChild(top);
      if (item.last_message) li.appendChild(el("div", "item-last", item.last_message));
      li.addEventListener("click", function () { openConversation(item.conversation_id); });
      list.appendChild(li);
    });
    $("mine-count").textContent = String(state.mine.length);
    $("mine-empty").hidden = state.mine.length > 0;
  }

  function refreshQueue() {
    return api("GET", "/agent/api/queue").then(function (data) {
      setQueue(items(data));
    }, function () { /* the socket sends the queue as well */ });
  }

  function setQueue(list) {
    var now = Date.now();
    state.queue = list.map(function (item) { item.__received = now; return item; });
    renderQueue();
    // A queued conversation on screen that left the queue (claimed by someone, cancelled): reload it.
    var current = state.current;
    if (current && current.handoff && current.handoff.status === "queued" &&
        !state.queue.some(function (item) { return item.conversation_id === current.cid; })) {
      openConversation(current.cid, true);
    }
  }

  function refreshMine() {
    return api("GET", "/agent/api/mine").then(function (data) {
      state.mine = items(data);
      renderMine();
    }, function () { /* keep the last list */ });
  }

  // ------------------------------------------------------------------------------------------
  // Conversation
  // ------------------------------------------------------------------------------------------

  /** Load and show a conversation; quiet: a refresh nobody asked for (no error toast on 403). */
  function openConversation(cid, quiet) {
    if (!cid) return Promise.resolve();
    delete state.unread[cid];
    state.loading = cid;
    state.pending[cid] = state.pending[cid] || {};
    return api("GET", "/agent/api/conversations/" + encodeURIComponent(cid)).then(function (data) {
      var messages = {};
      // Frames that arrived while this request was in flight are newer than its snapshot: keep them.
      if (state.current && state.current.cid === cid) {
        Object.keys(state.current.messages).forEach(function (seq) { messages[seq] = state.current.messages[seq]; });
      }
      var pending = state.pending[cid] || {};
      Object.keys(pending).forEach(function (seq) { messages[seq] = Object.assign({}, messages[seq] || {}, pending[seq]); });
      delete state.pending[cid];
      if (state.loading === cid) state.loading = null;
      (data.messages || []).forEach(function (m) {
        if (!m || typeof m.seq !== "number") return;
        var known = messages[m.seq];
        messages[m.seq] = known && known.sentiment && !m.sentiment ? Object.assign({}, m, { sentiment: known.sentiment, intent: known.intent }) : m;
      });
      state.current = {
        cid: cid, conversation: data.conversation || {}, handoff: data.handoff || null, messages: messages,
        panel: data.panel || {}, suggestions: data.suggestions || []
      };
      renderConversation();
      renderQueue();
      renderMine();
      scrollTranscript();
    }, function (error) {
      delete state.pending[cid];
      if (state.loading === cid) state.loading = null;
      if (error && (error.status === 403 || error.status === 404)) {
        // Resolved, cancelled or transferred away: no longer this agent's to see.
        if (state.current && state.current.cid === cid) closeConversation();
        if (!quiet) toast(errorText(error.data, t("forbidden")), "error");
      } else if (!quiet) {
        toast(errorText(error && error.data), "error");
      }
    });
  }

  /** After a handoff change: admins may still view the conversation, agents only while it is queued or theirs. */
  function reloadOrClose(cid, status, agentId) {
    var elsewhere = status === "assigned" && agentId !== undefined && agentId !== null && state.me.agent_id !== undefined &&
      agentId !== state.me.agent_id;
    if (state.me.role !== "admin" && (status === "resolved" || status === "cancelled" || elsewhere)) {
      if (state.current && state.current.cid === cid) closeConversation();
      return Promise.resolve();
    }
    return openConversation(cid, true);
  }

  function closeConversation() {
    state.current = null;
    $("conversation-view").hidden = true;
    $("conversation-empty").hidden = false;
    renderPanel(null);
    renderQueue();
    renderMine();
  }

  function renderConversation() {
    var current = state.current;
    if (!current) return;
    $("conversation-empty").hidden = true;
    $("conversation-view").hidden = false;
    var panel = current.panel || {};
    var handoff = current.handoff;
    var conversation = current.conversation || {};
    var title = panel.anonymous ? t("anonymous") : (panel.name || conversation.member_id || current.cid);
    $("conversation-title").textContent = title;
    var status;
    if (!handoff) status = conversation.state === "bot" || !conversation.state ? t("statusBot") : conversation.state;
    else if (handoff.status === "queued") status = t("statusQueued");
    else if (handoff.status === "assigned") status = t("statusAssigned", { name: handoff.agent_name || "" });
    else status = t("statusResolved");
    var sub = [current.cid, status];
    if (handoff && handoff.reason) sub.push(label("reason", handoff.reason));
    $("conversation-sub").textContent = sub.join(" · ");

    var mine = isMine(handoff);
    var admin = state.me.role === "admin";
    var claimOpen = $("claim-open");
    claimOpen.hidden = !(handoff && handoff.status === "queued");
    claimOpen.textContent = t("claim");
    var canAct = Boolean(handoff && handoff.status === "assigned" && (mine || admin));
    $("resolve").disabled = !canAct;
    renderTransferTargets(canAct);
    var input = $("agent-input");
    input.disabled = !mine;
    $("agent-send").disabled = !mine;
    var hint = "";
    if (handoff && handoff.status === "assigned" && !mine) hint = t("notYours", { name: handoff.agent_name || "" });
    else if (!mine) hint = t("mustClaim");
    $("compose-hint").textContent = hint;
    renderGoodwill(mine && !panel.anonymous && conversation.member_id !== null);
    renderTranscript();
    renderSuggestions(mine);
    renderPanel(panel);
  }

  function renderTransferTargets(enabled) {
    var select = $("transfer-select");
    select.textContent = "";
    var targets = state.agents.filter(function (a) { return a.username !== state.me.username; });
    select.appendChild(el("option", null, targets.length ? t("transferTo") : t("noTransferTarget"), { value: "" }));
    targets.forEach(function (agent) {
      select.appendChild(el("option", null, (agent.display_name || agent.username) + " (" + agent.username + ")", { value: agent.username }));
    });
    select.disabled = !enabled || !targets.length;
    $("transfer").disabled = !enabled || !targets.length;
  }

  function renderGoodwill(enabled) {
    var select = $("goodwill-amount");
    select.textContent = "";
    var limit = Number(state.me.goodwill_limit);
    var steps = isFinite(limit) && limit > 0 ? GOODWILL_STEPS.filter(function (n) { return n <= limit; }) : [];
    if (isFinite(limit) && limit > 0 && steps.indexOf(limit) === -1) steps.push(limit);
    steps.forEach(function (n) { select.appendChild(el("option", null, t("goodwillAmount", { n: n }), { value: String(n) })); });
    if (!steps.length) select.appendChild(el("option", null, t("goodwillNone"), { value: "" }));
    select.disabled = !enabled || !steps.length;
    $("goodwill").disabled = !enabled || !steps.length;
  }

  function renderSuggestions(enabled) {
    var box = $("suggestions");
    box.textContent = "";
    (state.current.suggestions || []).forEach(function (text) {
      var value = typeof text === "string" ? text : pick(text, "text");
      if (!value) return;
      var button = el("button", "suggestion", value, { type: "button", "data-testid": "suggestion" });
      button.disabled = !enabled;
      button.addEventListener("click", function () {
        var input = $("agent-input");
        input.value = value;
        input.focus();
      });
      box.appendChild(button);
    });
    box.hidden = !box.children.length;
  }

  function renderTranscript() {
    var box = $("transcript");
    box.textContent = "";
    var current = state.current;
    Object.keys(current.messages).map(Number).sort(function (a, b) { return a - b; }).forEach(function (seq) {
      box.appendChild(buildMessage(current.messages[seq]));
    });
  }

  function scrollTranscript() {
    var box = $("transcript");
    box.scrollTop = box.scrollHeight;
  }

  function sentimentChip(sentiment, createdAt) {
    if (!sentiment || typeof sentiment !== "object" || !sentiment.emotion) {
      // Tagging follows within a second or two; an old untagged message simply has no chip.
      var age = createdAt ? (Date.now() - new Date(createdAt).getTime()) / 1000 : 0;
      if (isFinite(age) && age > 30) return null;
      return chip(t("sentimentPending"), "sentiment pending", { "data-testid": "sentiment-chip-pending" });
    }
    var score = Number(sentiment.score);
    var text = (EMOJI[sentiment.emotion] || "•") + " " + label("emotion", sentiment.emotion) +
      (isFinite(score) ? " " + score.toFixed(2) : "");
    return chip(text, "sentiment emotion-" + sentiment.emotion + " polarity-" + (sentiment.polarity || "neutral"), {
      "data-testid": "sentiment-chip", "data-emotion": sentiment.emotion, "data-polarity": sentiment.polarity || "",
      title: (sentiment.polarity || "") + (isFinite(score) ? " " + score.toFixed(3) : "")
    });
  }

  function messageText(message) {
    var payload = message.payload && typeof message.payload === "object" ? message.payload : null;
    if (payload && (payload.text_zh || payload.text_en)) return pick(payload, "text");
    return message.text === undefined || message.text === null ? "" : String(message.text);
  }

  function buildMessage(message) {
    var sender = message.sender || "system";
    var row = el("div", "msg msg-" + sender, null, { "data-testid": "transcript-" + sender, "data-seq": message.seq, "data-id": message.id });
    if (sender === "system") {
      row.appendChild(el("div", "msg-system", messageText(message)));
      return row;
    }
    var who = sender === "member" ? t("member") : sender === "bot" ? t("bot") : (message.agent_name || t("agentLabel"));
    var meta = el("div", "msg-meta");
    meta.appendChild(el("span", "msg-who", who));
    meta.appendChild(el("time", "msg-time", timeLabel(message.created_at), { datetime: message.created_at || "" }));
    if (sender === "member") {
      var sentimentNode = sentimentChip(message.sentiment, message.created_at);
      if (sentimentNode) meta.appendChild(sentimentNode);
      if (message.intent) meta.appendChild(chip(message.intent, "intent", { title: t("intent"), "data-testid": "intent-chip" }));
    }
    row.appendChild(meta);
    var text = messageText(message);
    if (text) row.appendChild(el("div", "msg-bubble", text));
    var payload = message.payload && typeof message.payload === "object" ? message.payload : null;
    if (payload) {
      var extra = payloadSummary(payload);
      if (extra) row.appendChild(extra);
    }
    return row;
  }

  /** What the member was shown besides the text: cards and buttons, compact. */
  function payloadSummary(payload) {
    var box = el("div", "msg-extra");
    var list = Array.isArray(payload.items) ? payload.items : [];
    if (payload.type === "product_cards") {
      list.forEach(function (item) {
        box.appendChild(chip((pick(item, "title") || item.sku || "") + (item.price !== undefined ? " " + money(item.price) : ""), "card-chip"));
      });
    } else if (payload.type === "coupon_cards" || payload.type === "coupon_offers") {
      list.forEach(function (item) {
        box.appendChild(chip((state.lang === "en" ? "Coupon: " : "券：") + (pick(item, "title") || "") + " " + (pick(item, "summary") || ""), "card-chip"));
      });
    } else if (payload.type === "csat_request") {
      box.appendChild(chip("★ 1–5", "card-chip"));
    }
    if (Array.isArray(payload.buttons)) {
      payload.buttons.forEach(function (button) {
        if (button && button.title) box.appendChild(chip(String(button.title), "button-chip"));
      });
    }
    return box.children.length ? box : null;
  }

  /** Keep a frame for the conversation whose GET is in flight; true when it was kept. */
  function bufferWhileLoading(cid, message) {
    if (state.loading !== cid || (state.current && state.current.cid === cid)) return false;
    var buffer = state.pending[cid] || (state.pending[cid] = {});
    buffer[message.seq] = Object.assign({}, buffer[message.seq] || {}, message);
    return true;
  }

  function addMessage(cid, message) {
    if (!message || typeof message.seq !== "number") return;
    if (bufferWhileLoading(cid, message)) return;
    if (state.current && state.current.cid === cid) {
      var fresh = !state.current.messages[message.seq];
      state.current.messages[message.seq] = message;
      var box = $("transcript");
      var nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
      var old = box.querySelector('[data-seq="' + message.seq + '"]');
      var node = buildMessage(message);
      if (old) {
        old.replaceWith(node);
      } else {
        var after = null;
        Array.prototype.forEach.call(box.children, function (child) {
          if (!after && Number(child.getAttribute("data-seq")) > message.seq) after = child;
        });
        box.insertBefore(node, after);
      }
      if (fresh && (nearBottom || message.sender !== "member")) scrollTranscript();
    } else if (message.sender === "member") {
      state.unread[cid] = (state.unread[cid] || 0) + 1;
      renderMine();
    }
  }

  function updateMessage(cid, message) {
    if (message && typeof message.seq === "number" && bufferWhileLoading(cid, message)) return;
    if (!message || !state.current || state.current.cid !== cid) return;
    var seq = message.seq;
    if (typeof seq !== "number" && message.id !== undefined) {
      Object.keys(state.current.messages).forEach(function (key) {
        if (state.current.messages[key].id === message.id) seq = Number(key);
      });
    }
    if (typeof seq !== "number") return;
    var merged = Object.assign({}, state.current.messages[seq] || {}, message, { seq: seq });
    addMessage(cid, merged);
  }

  // ------------------------------------------------------------------------------------------
  // Profile panel (renders whatever keys the panel has)
  // ------------------------------------------------------------------------------------------

  function section(title, testid) {
    var node = el("section", "panel-section", null, { "data-testid": testid });
    node.appendChild(el("h3", null, title));
    return node;
  }

  function row(dl, key, value, testid) {
    if (value === undefined || value === null || value === "") return;
    dl.appendChild(el("dt", null, key));
    dl.appendChild(el("dd", null, value, testid ? { "data-testid": testid } : null));
  }

  function renderPanel(panel) {
    var box = $("profile-body");
    box.textContent = "";
    if (!panel) {
      box.appendChild(el("p", "empty", t("noProfile")));
      return;
    }
    if (panel.anonymous) {
      box.appendChild(el("p", "empty", t("anonymousProfile"), { "data-testid": "profile-anonymous" }));
      return;
    }
    var head = el("div", "panel-head");
    head.appendChild(el("div", "panel-avatar", String(panel.name || "?").slice(0, 1), { "aria-hidden": "true" }));
    var names = el("div");
    names.appendChild(el("div", "panel-name", panel.name || panel.member_id || "", { "data-testid": "profile-name" }));
    var tierName = pick(panel, "tier") || label("tier", panel.tier && panel.tier.code);
    if (tierName) names.appendChild(chip(tierName, "tier tier-" + ((panel.tier && panel.tier.code) || panel.tier), { "data-testid": "profile-tier" }));
    head.appendChild(names);
    box.appendChild(head);

    var basics = section(t("basics"), "profile-basics");
    var dl = el("dl");
    row(dl, t("memberId"), panel.member_id);
    row(dl, t("phone"), panel.masked_phone);
    row(dl, t("city"), panel.city);
    row(dl, t("language"), panel.preferred_language);
    var segment = panel.segment && typeof panel.segment === "object" ? pick({ s: panel.segment }, "s") : panel.segment;
    row(dl, t("segment"), segment, "profile-segment");
    if (panel.lifecycle) row(dl, t("lifecycle"), label("lifecycle", panel.lifecycle));
    if (panel.churn_risk !== undefined && panel.churn_risk !== null) {
      var risk = Number(panel.churn_risk);
      row(dl, t("churn"), isFinite(risk) ? Math.round(risk * 100) + "%" : String(panel.churn_risk));
    }
    basics.appendChild(dl);
    box.appendChild(basics);

    if (panel.tier_progress && typeof panel.tier_progress === "object") {
      var progress = section(t("progress"), "profile-progress");
      var share = Number(panel.tier_progress.progress);
      if (isFinite(share)) {
        var bar = el("div", "bar");
        var fill = el("i");
        fill.style.width = Math.max(0, Math.min(100, share <= 1 ? share * 100 : share)) + "%";
        bar.appendChild(fill);
        progress.appendChild(bar);
      }
      var progressText = pick(panel.tier_progress, "progress");
      if (progressText && !/^[0-9.]+$/.test(progressText)) progress.appendChild(el("p", "small", progressText));
      box.appendChild(progress);
    }

    if (panel.points !== undefined && panel.points !== null) {
      var points = section(t("points"), "profile-points");
      if (typeof panel.points === "object") {
        points.appendChild(el("div", "big-number", panel.points.balance !== undefined ? String(panel.points.balance) : "—"));
        var reminder = pick(panel.points, "expiry_reminder");
        if (reminder) points.appendChild(el("p", "small warn", reminder));
        else if (Number(panel.points.expiring_points) > 0) {
          points.appendChild(el("p", "small warn", t("expiring") + " " + panel.points.expiring_points));
        }
      } else {
        points.appendChild(el("div", "big-number", String(panel.points)));
      }
      box.appendChild(points);
    }

    var orders = panel.recent_orders || panel.orders;
    if (Array.isArray(orders)) {
      var ordersBox = section(t("orders"), "profile-orders");
      if (!orders.length) ordersBox.appendChild(el("p", "small muted", t("none")));
      var table = el("ul", "mini-list");
      orders.forEach(function (order) {
        var li = el("li", null, null, { "data-testid": "profile-order" });
        li.appendChild(el("span", "mono", order.order_id || order.id || ""));
        li.appendChild(el("span", "muted", String(order.created_at || order.date || "").slice(0, 10)));
        li.appendChild(el("span", "status", pick(order, "status")));
        var total = order.total_amount !== undefined ? order.total_amount : order.total;
        li.appendChild(el("span", "amount", total !== undefined && total !== null ? money(total) : ""));
        table.appendChild(li);
      });
      ordersBox.appendChild(table);
      box.appendChild(ordersBox);
    }

    var coupons = panel.coupons || panel.usable_coupons;
    if (Array.isArray(coupons)) {
      var couponsBox = section(t("coupons"), "profile-coupons");
      if (!coupons.length) couponsBox.appendChild(el("p", "small muted", t("none")));
      var clist = el("ul", "mini-list");
      coupons.forEach(function (coupon) {
        var li = el("li", null, null, { "data-testid": "profile-coupon" });
        li.appendChild(el("span", null, pick(coupon, "title")));
        li.appendChild(el("span", "muted", pick(coupon, "summary")));
        if (coupon.valid_until) li.appendChild(el("span", "muted small", String(coupon.valid_until).slice(0, 10)));
        clist.appendChild(li);
      });
      couponsBox.appendChild(clist);
      box.appendChild(couponsBox);
    }

    if (Array.isArray(panel.recommendations)) {
      var recBox = section(t("recommendations"), "profile-recommendations");
      var note = pick(panel, "recommendations_note");
      if (panel.consent_personalization === false) recBox.appendChild(chip(t("consentOff"), "warn-chip", { "data-testid": "profile-consent-off" }));
      if (note) recBox.appendChild(el("p", "small muted", note));
      var rlist = el("ul", "mini-list recs");
      panel.recommendations.forEach(function (item) {
        var li = el("li", null, null, { "data-testid": "profile-recommendation" });
        li.appendChild(el("span", "rec-title", pick(item, "title") || item.sku || ""));
        if (item.price !== undefined && item.price !== null) li.appendChild(el("span", "amount", money(item.price)));
        var reason = pick(item, "reason");
        if (reason && /^[a-z_]+$/.test(reason) && (item.reason_zh || item.reason_en)) reason = item.reason_zh || item.reason_en;
        if (reason) li.appendChild(el("span", "rec-reason", reason, { "data-testid": "profile-recommendation-reason" }));
        rlist.appendChild(li);
      });
      recBox.appendChild(rlist);
      box.appendChild(recBox);
    }

    // Anything else the backend adds later still shows up.
    var rest = Object.keys(panel).filter(function (key) {
      return KNOWN_PANEL_KEYS.indexOf(key) === -1 && !/_(zh|en)$/.test(key) && panel[key] !== null && panel[key] !== undefined;
    });
    if (rest.length) {
      var other = section(t("other"), "profile-other");
      var odl = el("dl");
      rest.forEach(function (key) { row(odl, key, generic(panel[key], 0)); });
      other.appendChild(odl);
      box.appendChild(other);
    }
  }

  function generic(value, depth) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "object") return String(value);
    if (depth > 2) return "…";
    if (Array.isArray(value)) return value.map(function (v) { return generic(v, depth + 1); }).join("; ");
    var named = value["name_" + state.lang] || value["title_" + state.lang] || value.name_zh || value.title_zh;
    if (named) return String(named);
    return Object.keys(value).filter(function (k) { return !/_(zh|en)$/.test(k) || k.slice(-2) === state.lang; })
      .map(function (k) { return k + ": " + generic(value[k], depth + 1); }).join(", ");
  }

  // ------------------------------------------------------------------------------------------
  // Actions
  // ------------------------------------------------------------------------------------------

  function claimHandoff(handoffId, button) {
    if (button) button.disabled = true;
    return api("POST", "/agent/api/handoffs/" + encodeURIComponent(handoffId) + "/claim").then(function (data) {
      toast(t("claimed"), "ok");
      var cid = (data && data.handoff && data.handoff.conversation_id) || (data && data.conversation && data.conversation.conversation_id);
      return Promise.all([refreshMine(), refreshQueue()]).then(function () { return cid ? openConversation(cid) : null; });
    }, function (error) {
      toast(errorText(error && error.data), "error");
      refreshQueue();
    }).then(function () {
      if (button) button.disabled = false;
    });
  }

  function sendReply() {
    var current = state.current;
    var input = $("agent-input");
    var text = input.value.trim();
    if (!current || !text) return;
    var send = $("agent-send");
    send.disabled = true;
    api("POST", "/agent/api/conversations/" + encodeURIComponent(current.cid) + "/reply", { text: text }).then(function (data) {
      input.value = "";
      if (data && data.message) addMessage(current.cid, data.message);
    }, function (error) {
      toast(errorText(error && error.data), "error");
    }).then(function () {
      send.disabled = !(state.current && isMine(state.current.handoff));
      input.focus();
    });
  }

  function transfer() {
    var current = state.current;
    var target = $("transfer-select").value;
    if (!current || !current.handoff || !target) return;
    var name = $("transfer-select").selectedOptions[0].textContent;
    api("POST", "/agent/api/handoffs/" + encodeURIComponent(current.handoff.handoff_id) + "/transfer", { to_agent: target })
      .then(function () {
        toast(t("transferred", { name: name }), "ok");
        return refreshMine().then(function () { return reloadOrClose(current.cid, "assigned", -1); });
      }, function (error) { toast(errorText(error && error.data), "error"); });
  }

  function resolve() {
    var current = state.current;
    if (!current || !current.handoff) return;
    var button = $("resolve");
    button.disabled = true;
    api("POST", "/agent/api/handoffs/" + encodeURIComponent(current.handoff.handoff_id) + "/resolve").then(function () {
      toast(t("resolvedToast"), "ok");
      return refreshMine().then(function () { return reloadOrClose(current.cid, "resolved"); });
    }, function (error) {
      toast(errorText(error && error.data), "error");
      button.disabled = false;
    });
  }

  function goodwill() {
    var current = state.current;
    var amount = $("goodwill-amount").value;
    if (!current || !amount) return;
    var button = $("goodwill");
    button.disabled = true;
    api("POST", "/agent/api/conversations/" + encodeURIComponent(current.cid) + "/goodwill", { amount: amount }).then(function (data) {
      toast(t("goodwillSent", { n: amount }), "ok");
      if (data && data.message) addMessage(current.cid, data.message);
      // The panel's coupon list changed.
      return openConversation(current.cid, true);
    }, function (error) {
      toast(errorText(error && error.data), "error");
    }).then(function () {
      button.disabled = !(state.current && isMine(state.current.handoff));
    });
  }

  // ------------------------------------------------------------------------------------------
  // Live socket
  // ------------------------------------------------------------------------------------------

  function setConnection(key) {
    var node = $("ws-status");
    node.setAttribute("data-state", key);
    node.querySelector("span").textContent = t(key);
  }

  function connect() {
    var url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/ws/agent";
    var ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.onopen = function () {
      state.retry = 0;
      setConnection("online");
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(function () {
        if (ws.readyState === 1) ws.send('{"type":"ping"}');
      }, 25000);
      // Catch up with whatever happened while the socket was down.
      refreshMine();
      if (state.current) openConversation(state.current.cid, true);
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handleFrame(frame);
    };
    ws.onclose = function (event) {
      if (state.ws !== ws) return;
      state.ws = null;
      clearInterval(state.pingTimer);
      if (event.code === 4401) {
        window.location.href = "/agent/login";
        return;
      }
      if (event.code === 4403) {
        setConnection("offline");
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    setConnection("offline");
    var delay = Math.min(30000, 1000 * Math.pow(2, state.retry)) * (0.75 + Math.random() * 0.5);
    state.retry += 1;
    setTimeout(connect, delay);
  }

  function handleFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "hello" && frame.agent) {
      state.me = Object.assign(state.me, frame.agent);
      if (state.current) renderConversation();
    } else if (frame.type === "queue") {
      setQueue(items(frame));
    } else if (frame.type === "message") {
      var message = frame.message || {};
      addMessage(frame.conversation_id || message.conversation_id, message);
      updateLastMessage(frame.conversation_id || message.conversation_id, message);
    } else if (frame.type === "message_update") {
      var updated = frame.message || frame;
      updateMessage(frame.conversation_id || updated.conversation_id, updated);
    } else if (frame.type === "handoff") {
      var handoff = frame.handoff || {};
      refreshMine();
      if (state.current && handoff.conversation_id === state.current.cid) reloadOrClose(state.current.cid, handoff.status, handoff.agent_id);
    } else if (frame.type === "error") {
      toast(errorText(frame), "error");
    }
  }

  function updateLastMessage(cid, message) {
    if (!message || message.sender !== "member") return;
    state.mine.forEach(function (item) { if (item.conversation_id === cid) item.last_message = message.text; });
    renderMine();
  }

  // ------------------------------------------------------------------------------------------
  // Start
  // ------------------------------------------------------------------------------------------

  function init() {
    try {
      var stored = window.localStorage.getItem("desk:lang");
      if (stored === "en" || stored === "zh") state.lang = stored;
    } catch (e) { /* ignore */ }
    Array.prototype.forEach.call(document.querySelectorAll("input[data-csrf-field]"), function (input) {
      if (!input.value) input.value = csrfToken();
    });
    $("lang-switch").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      try { window.localStorage.setItem("desk:lang", state.lang); } catch (e) { /* ignore */ }
      applyLanguage();
    });
    $("logout-form").addEventListener("submit", function () {
      var field = document.querySelector("input[data-csrf-field]");
      if (field) field.value = csrfToken();
    });
    $("reply-form").addEventListener("submit", function (event) {
      event.preventDefault();
      sendReply();
    });
    $("agent-input").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        sendReply();
      }
    });
    $("claim-open").addEventListener("click", function () {
      if (state.current && state.current.handoff) claimHandoff(state.current.handoff.handoff_id, $("claim-open"));
    });
    $("transfer").addEventListener("click", transfer);
    $("resolve").addEventListener("click", resolve);
    $("goodwill").addEventListener("click", goodwill);
    // Waiting times tick without asking the server.
    setInterval(function () {
      Array.prototype.forEach.call(document.querySelectorAll('[data-testid="queue-item"]'), function (li) {
        var id = li.getAttribute("data-handoff-id");
        var item = state.queue.filter(function (q) { return String(q.handoff_id) === id; })[0];
        var wait = li.querySelector('[data-testid="queue-wait"]');
        if (item && wait) wait.textContent = t("waiting", { t: duration(waitingSeconds(item)) });
      });
    }, 1000);

    applyLanguage();
    api("GET", "/agent/api/me").then(function (me) {
      if (me) state.me = Object.assign(state.me, me);
      if (state.current) renderConversation();
    }, function () { /* the page already knows the agent */ });
    api("GET", "/agent/api/agents").then(function (data) {
      state.agents = items(data);
      if (state.current) renderConversation();
    }, function () { state.agents = []; });
    refreshQueue();
    refreshMine();
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
