/*
 * Ops analytics dashboard (plain JavaScript, no build step). Talks to:
 *   GET  /ops/api/metrics?from&to&tier&segment        every metric, filter options
 *   GET  /ops/api/unrecognized?from&to&tier&segment   clusters of unrecognized messages (own loading state)
 *   GET  /ops/api/breakdown/{containment|handoffs|csat}?by=tier|segment&…   the breakdown toggle
 *   GET  /ops/api/conversations/{key}/transcript                           drill-down (masked)
 *   POST /ops/api/refresh  (X-CSRF-Token = the desk_csrf cookie)           run the pipeline now
 *   links /ops/api/export.csv?metric=…&filters                             CSV per chart/table
 * Charts use the vendored Chart.js 4 UMD build (window.Chart); without it the page says so and
 * keeps the tiles and tables. Server text reaches the page only through textContent.
 * window.OpsDashboard exposes the state (charts, loads) for the browser tests.
 */
(function () {
  "use strict";

  var STRINGS = {
    zh: {
      loading: "加载中…", loadFailed: "数据加载失败，请稍后重试", forbidden: "您没有查看运营数据的权限",
      badRange: "开始日期不能晚于结束日期", updated: "数据更新于 {t}", refreshing: "正在刷新…",
      refreshed: "已刷新：处理了 {n} 条新事件", refreshedPlain: "已刷新", refreshFailed: "刷新失败",
      days: "{n} 天", members: "{n} 位会员", handoffs: "{n} 次转人工", ofTurns: "{a} / {b} 条消息",
      ratings: "{n} 条评价，总均分 {m}", p90: "P90 {t}", replies: "{n} 次回复", noData: "暂无数据",
      botHumanUnresolved: "机器人 {b} · 人工 {h} · 未解决 {u}",
      seconds: "{s}秒", minutes: "{m}分{s}秒", hours: "{h}小时{m}分",
      conversations: "会话", membersSeries: "会员", messages: "消息数", share: "占比",
      meanScore: "平均分", rated: "评价数", rate: "比率",
      ctr: "推荐点击率", claimRate: "领券率", redemptionRate: "核销率",
      conversionNote: "推荐：{a} 个会话展示过商品，{b} 个随后互动；优惠券：{c} 个会话展示过券，{d} 个领取，{e} 张已核销。",
      first: "首条 \\ 末条", improved: "好转 {a} · 变差 {b} · 不变 {c}",
      agent: "客服", all: "全部", handoffsCol: "转人工", waitClaim: "排队等待 P50", firstResponse: "首次响应 P50 / P90",
      resolution: "解决时长 P50 / P90",
      value: "分组", containment: "机器人解决率", handoffRate: "转人工率", csat: "满意度",
      time: "时间", tier: "等级", segment: "分群", emotion: "末条情绪", outcome: "结果", lastMessage: "末条消息（已脱敏）",
      cluster: "聚类关键词", size: "条数", examples: "示例（已脱敏）", noClusters: "没有未识别的消息",
      noNegative: "所选范围内没有以负面情绪结束的会话",
      handoffYes: "转人工", resolvedBy_bot: "机器人解决", resolvedBy_human: "人工解决", resolvedBy_unresolved: "未解决",
      speaker_member: "会员", speaker_bot: "智能助手", speaker_agent: "客服",
      transcriptLoading: "正在加载会话…", transcriptMissing: "找不到这段会话", started: "开始于 {t}",
      polarity_negative: "负面", polarity_neutral: "中性", polarity_positive: "正面",
      emotion_anger: "愤怒", emotion_anxiety: "焦虑", emotion_disappointment: "失望", emotion_joy: "开心", emotion_neutral: "中性",
      reason_member_request: "主动要求人工", reason_complaint: "投诉", reason_negative_emotion: "情绪激动",
      reason_repeated_fallback: "连续未识别", reason_top_tier: "高等级会员", reason_vip: "高等级会员", reason_unknown: "未知",
      tier_normal: "普通会员", tier_silver: "银卡会员", tier_gold: "金卡会员", tier_diamond: "钻石会员", tier_anonymous: "匿名访客",
      segment_high_value: "高价值", segment_potential: "潜力", segment_new: "新客", segment_at_risk: "流失风险",
      segment_dormant: "沉睡", segment_none: "无分群"
    },
    en: {
      loading: "Loading…", loadFailed: "Could not load the figures; please try again", forbidden: "You may not view ops figures",
      badRange: "The start date must not be after the end date", updated: "Data as of {t}", refreshing: "Refreshing…",
      refreshed: "Refreshed: {n} new events processed", refreshedPlain: "Refreshed", refreshFailed: "Refresh failed",
      days: "{n} days", members: "{n} members", handoffs: "{n} handoffs", ofTurns: "{a} / {b} messages",
      ratings: "{n} ratings, mean {m}", p90: "p90 {t}", replies: "{n} replies", noData: "No data",
      botHumanUnresolved: "bot {b} · human {h} · unresolved {u}",
      seconds: "{s}s", minutes: "{m}m {s}s", hours: "{h}h {m}m",
      conversations: "Conversations", membersSeries: "Members", messages: "Messages", share: "Share",
      meanScore: "Mean score", rated: "Ratings", rate: "Rate",
      ctr: "Recommendation CTR", claimRate: "Coupon claim rate", redemptionRate: "Redemption rate",
      conversionNote: "Recommendations: {a} conversations showed products, {b} engaged; coupons: {c} conversations showed offers, {d} claimed, {e} redeemed.",
      first: "first \\ last", improved: "improved {a} · worsened {b} · unchanged {c}",
      agent: "Agent", all: "All", handoffsCol: "Handoffs", waitClaim: "Wait to claim p50", firstResponse: "First response p50 / p90",
      resolution: "Resolution p50 / p90",
      value: "Group", containment: "Containment", handoffRate: "Handoff rate", csat: "CSAT",
      time: "Time", tier: "Tier", segment: "Segment", emotion: "Last emotion", outcome: "Outcome", lastMessage: "Last message (masked)",
      cluster: "Top terms", size: "Messages", examples: "Examples (masked)", noClusters: "No unrecognized messages",
      noNegative: "No conversation ended negative in this range",
      handoffYes: "handed off", resolvedBy_bot: "bot resolved", resolvedBy_human: "human resolved", resolvedBy_unresolved: "unresolved",
      speaker_member: "Member", speaker_bot: "Assistant", speaker_agent: "Agent",
      transcriptLoading: "Loading the conversation…", transcriptMissing: "This conversation was not found", started: "Started {t}",
      polarity_negative: "Negative", polarity_neutral: "Neutral", polarity_positive: "Positive",
      emotion_anger: "Anger", emotion_anxiety: "Anxiety", emotion_disappointment: "Disappointment", emotion_joy: "Joy", emotion_neutral: "Neutral",
      reason_member_request: "Asked for an agent", reason_complaint: "Complaint", reason_negative_emotion: "Upset",
      reason_repeated_fallback: "Not understood twice", reason_top_tier: "Top-tier member", reason_vip: "Top-tier member", reason_unknown: "Unknown",
      tier_normal: "Member", tier_silver: "Silver", tier_gold: "Gold", tier_diamond: "Diamond", tier_anonymous: "Anonymous",
      segment_high_value: "High value", segment_potential: "Potential", segment_new: "New", segment_at_risk: "At risk",
      segment_dormant: "Dormant", segment_none: "No segment"
    }
  };
  var POLARITIES = ["negative", "neutral", "positive"];
  var EMOTIONS = ["anger", "anxiety", "disappointment", "joy", "neutral"];
  var KNOWN_SEGMENTS = ["high_value", "potential", "new", "at_risk", "dormant", "none"];
  var COLORS = {
    brand: "#d6383f", blue: "#2f6fde", green: "#3f9b5a", amber: "#f08a24", purple: "#7b5bd6", teal: "#1f9c8f",
    grey: "#9ca3af", pink: "#e2557a"
  };
  var PALETTE = [COLORS.brand, COLORS.blue, COLORS.amber, COLORS.green, COLORS.purple, COLORS.teal, COLORS.pink, COLORS.grey];
  var POLARITY_COLORS = { negative: COLORS.brand, neutral: COLORS.grey, positive: COLORS.green };
  var EMOTION_COLORS = { anger: COLORS.brand, anxiety: COLORS.amber, disappointment: COLORS.blue, joy: COLORS.green, neutral: COLORS.grey };
  var FILTER_KEYS = ["from", "to", "tier", "segment"];

  var state = {
    filters: { from: "", to: "", tier: "", segment: "" },
    data: null,          // the last /ops/api/metrics answer
    breakdownBy: "tier",
    breakdown: null,     // {by, rows: [{value, containment, handoffs, csat}]}
    segmentOptions: [],  // [{value, label_zh, label_en}] from the answer's options (values in the data)
    charts: {},
    chartsAvailable: false,
    loads: 0,            // finished metric loads (tests wait on it)
    seq: 0,
    breakdownSeq: 0,
    clusters: null,      // {state: "loading"|"ready"|"error", clusters: [...], error}
    clustersSeq: 0,
    transcriptKey: null,
    transcript: null
  };

  // ------------------------------------------------------------------------------------------
  // Helpers
  // ------------------------------------------------------------------------------------------

  function $(testid, root) {
    return (root || document).querySelector('[data-testid="' + testid + '"]');
  }

  function lang() {
    return document.documentElement.getAttribute("data-lang") === "en" ? "en" : "zh";
  }

  function t(key, values) {
    var table = STRINGS[lang()];
    var text = table[key] !== undefined ? table[key] : (STRINGS.zh[key] !== undefined ? STRINGS.zh[key] : key);
    return String(text).replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined && values[name] !== null ? String(values[name]) : all;
    });
  }

  function label(prefix, code) {
    if (code === undefined || code === null || code === "") code = prefix === "segment" ? "none" : "unknown";
    var key = prefix + "_" + code;
    return STRINGS[lang()][key] !== undefined ? STRINGS[lang()][key] : String(code);
  }

  var el = window.DeskDom.el;  // web/static/dom.js

  function num(value) {
    return value === undefined || value === null || !isFinite(Number(value)) ? null : Number(value);
  }

  function pct(rate) {
    var value = num(rate);
    return value === null ? "—" : (Math.round(value * 1000) / 10).toFixed(1) + "%";
  }

  function score(value) {
    var v = num(value);
    return v === null ? "—" : v.toFixed(2);
  }

  function duration(seconds) {
    var value = num(seconds);
    if (value === null) return "—";
    value = Math.max(0, Math.round(value));
    var h = Math.floor(value / 3600), m = Math.floor((value % 3600) / 60), s = value % 60;
    if (h) return t("hours", { h: h, m: m });
    if (m) return t("minutes", { m: m, s: s });
    return t("seconds", { s: s });
  }

  function stamp(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    function two(n) { return ("0" + n).slice(-2); }
    return date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate()) + " " +
      two(date.getHours()) + ":" + two(date.getMinutes());
  }

  function isoDay(date) {
    function two(n) { return ("0" + n).slice(-2); }
    return date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate());
  }

  var csrfToken = window.DeskDom.csrfToken;  // web/static/dom.js

  function errorText(error, fallbackKey) {
    var data = error && error.data;
    if (data && (data.message_zh || data.message_en)) {
      return lang() === "en" ? (data.message_en || data.message_zh) : (data.message_zh || data.message_en);
    }
    if (error && error.status === 403) return t("forbidden");
    return t(fallbackKey || "loadFailed");
  }

  /** JSON API call; rejects with {status, data}; a logged-out user goes to the login page. */
  function api(method, path) {
    var headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
    return fetch(path, { method: method, headers: headers, credentials: "same-origin" }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (response.status === 401) window.location.href = "/agent/login";
        if (!response.ok) return Promise.reject({ status: response.status, data: data });
        return data;
      });
    }, function () {
      return Promise.reject({ status: 0, data: null });
    });
  }

  function query(extra, omit) {
    var params = new URLSearchParams();
    Object.keys(extra || {}).forEach(function (key) { params.set(key, extra[key]); });
    FILTER_KEYS.forEach(function (key) {
      if (state.filters[key] && (!omit || omit.indexOf(key) < 0)) params.set(key, state.filters[key]);
    });
    var text = params.toString();
    return text ? "?" + text : "";
  }

  var toast = window.DeskDom.toast;  // web/static/dom.js

  function showError(text) {
    var node = $("ops-error");
    node.textContent = text || "";
    node.hidden = !text;
  }

  // ------------------------------------------------------------------------------------------
  // Filters
  // ------------------------------------------------------------------------------------------

  function readForm() {
    return {
      from: $("filter-from").value || "",
      to: $("filter-to").value || "",
      tier: $("filter-tier").value || "",
      segment: $("filter-segment").value || ""
    };
  }

  function writeForm() {
    $("filter-from").value = state.filters.from || "";
    $("filter-to").value = state.filters.to || "";
    $("filter-tier").value = state.filters.tier || "";
    ensureSegmentOption(state.filters.segment);
    $("filter-segment").value = state.filters.segment || "";
  }

  function ensureSegmentOption(value) {
    if (!value) return;
    var select = $("filter-segment");
    var exists = Array.prototype.some.call(select.options, function (option) { return option.value === value; });
    if (!exists) select.appendChild(el("option", null, label("segment", value), { value: value }));
  }

  /** The page's own name for a tier/segment code (as in the console), else the server's label. */
  function optionLabel(option, prefix) {
    if (STRINGS[lang()][prefix + "_" + option.value] !== undefined) return label(prefix, option.value);
    return option["label_" + lang()] || option.label_zh || String(option.value);
  }

  function renderSegmentOptions() {
    var select = $("filter-segment");
    var current = select.value || state.filters.segment || "";
    var options = state.segmentOptions.length ? state.segmentOptions :
      KNOWN_SEGMENTS.map(function (value) { return { value: value }; });
    while (select.options.length > 1) select.remove(1);
    options.forEach(function (option) {
      select.appendChild(el("option", null, optionLabel(option, "segment"), { value: option.value, "data-testid": "segment-option" }));
    });
    ensureSegmentOption(current);
    select.value = current;
  }

  function translateOptions() {
    Array.prototype.forEach.call(document.querySelectorAll("option[data-label-zh]"), function (option) {
      option.textContent = option.getAttribute("data-label-" + lang()) || option.getAttribute("data-label-zh");
    });
    renderSegmentOptions();
  }

  function syncUrl() {
    var params = new URLSearchParams(window.location.search);
    FILTER_KEYS.forEach(function (key) {
      if (state.filters[key]) params.set(key, state.filters[key]);
      else params.delete(key);
    });
    var text = params.toString();
    try { window.history.replaceState(null, "", window.location.pathname + (text ? "?" + text : "")); } catch (e) { /* ignore */ }
  }

  function updateCsvLinks() {
    Array.prototype.forEach.call(document.querySelectorAll("a[data-csv]"), function (link) {
      link.setAttribute("href", "/ops/api/export.csv" + query({ metric: link.getAttribute("data-csv") }));
    });
  }

  function applyPreset(days) {
    var end = new Date();
    var start = new Date(end.getFullYear(), end.getMonth(), end.getDate() - (days - 1));
    $("filter-from").value = isoDay(start);
    $("filter-to").value = isoDay(end);
    apply();
  }

  function apply() {
    var next = readForm();
    if (next.from && next.to && next.from > next.to) {
      showError(t("badRange"));
      return;
    }
    state.filters = next;
    load();
  }

  // ------------------------------------------------------------------------------------------
  // Loading
  // ------------------------------------------------------------------------------------------

  function metricsOf(data) {
    if (!data) return {};
    return data.metrics && typeof data.metrics === "object" ? data.metrics : data;
  }

  /** The clusters panel loads on its own (clustering is slower than the figures; they need not wait). */
  function loadClusters() {
    var seq = (state.clustersSeq += 1);
    state.clusters = { state: "loading", clusters: [] };
    renderClusters();
    api("GET", "/ops/api/unrecognized" + query({ limit: 10 })).then(function (data) {
      if (seq !== state.clustersSeq) return;
      state.clusters = { state: "ready", clusters: (data && data.clusters) || [] };
      renderClusters();
    }, function (error) {
      if (seq !== state.clustersSeq) return;
      state.clusters = { state: "error", clusters: [], error: errorText(error) };
      renderClusters();
    });
  }

  function load() {
    var seq = (state.seq += 1);
    var main = $("ops-dashboard");
    main.setAttribute("data-state", "loading");
    showError("");
    updateCsvLinks();
    syncUrl();
    loadClusters();
    api("GET", "/ops/api/metrics" + query()).then(function (data) {
      if (seq !== state.seq) return;
      state.data = data || {};
      var filters = state.data.filters || metricsOf(state.data).filters || {};
      // The server fills in the defaults (the last 30 days); the form shows what was used.
      state.filters.from = filters.date_from || filters.from || state.filters.from;
      state.filters.to = filters.date_to || filters.to || state.filters.to;
      var segments = ((state.data.options || {}).segments) || [];
      if (segments.length) {
        state.segmentOptions = segments;
        renderSegmentOptions();
      }
      writeForm();
      updateCsvLinks();
      renderAll();
      state.loads += 1;
      main.setAttribute("data-state", "ready");
      main.setAttribute("data-loads", String(state.loads));
      loadBreakdown();
    }, function (error) {
      if (seq !== state.seq) return;
      main.setAttribute("data-state", "error");
      showError(errorText(error));
    });
  }

  function loadBreakdown() {
    var seq = (state.breakdownSeq += 1);
    var by = state.breakdownBy;
    var names = ["containment", "handoffs", "csat"];
    var omit = [by];  // a breakdown by tier ignores the tier filter (and likewise segment)
    Promise.all(names.map(function (name) {
      return api("GET", "/ops/api/breakdown/" + name + query({ by: by }, omit));
    })).then(function (answers) {
      if (seq !== state.breakdownSeq) return;
      var rows = {};
      var order = [];
      answers.forEach(function (answer, index) {
        ((answer && answer.rows) || []).forEach(function (row) {
          var key = row.value === null || row.value === undefined ? (by === "tier" ? "anonymous" : "none") : String(row.value);
          if (!rows[key]) { rows[key] = { value: key, label_zh: row.label_zh, label_en: row.label_en }; order.push(key); }
          rows[key][names[index]] = row.metric || {};
        });
      });
      state.breakdown = { by: by, rows: order.map(function (key) { return rows[key]; }) };
      renderBreakdown();
    }, function (error) {
      if (seq !== state.breakdownSeq) return;
      state.breakdown = { by: by, rows: [], error: errorText(error) };
      renderBreakdown();
    });
  }

  function refresh() {
    var button = $("refresh");
    button.disabled = true;
    toast(t("refreshing"));
    api("POST", "/ops/api/refresh").then(function (summary) {
      var run = (summary && summary.summary) || summary || {};
      var n = run.events_read !== undefined ? run.events_read : run.events;
      toast(n !== undefined && n !== null ? t("refreshed", { n: n }) : t("refreshedPlain"), "ok");
      load();
    }, function (error) {
      toast(errorText(error, "refreshFailed"), "error");
    }).then(function () { button.disabled = false; });
  }

  // ------------------------------------------------------------------------------------------
  // Rendering: KPI tiles
  // ------------------------------------------------------------------------------------------

  function setKpi(name, value, sub) {
    var tile = $("kpi-" + name);
    tile.querySelector(".kpi-value").textContent = value;
    tile.querySelector(".kpi-sub").textContent = sub || "";
  }

  function renderKpis(m) {
    var perDay = m.conversations_per_day || {};
    var days = perDay.days || [];
    setKpi("conversations", String(num(perDay.total) === null ? "—" : perDay.total), t("days", { n: days.length }));
    var c = m.containment || {};
    setKpi("containment", pct(c.containment_rate),
      t("botHumanUnresolved", { b: c.bot || 0, h: c.human || 0, u: c.unresolved || 0 }));
    var h = m.handoffs || {};
    setKpi("handoff_rate", pct(h.handoff_rate), t("handoffs", { n: h.handoffs || 0 }));
    var f = m.fallbacks || {};
    setKpi("fallback_rate", pct(f.fallback_rate), t("ofTurns", { a: f.fallback_turns || 0, b: f.turns || 0 }));
    var s = m.csat || {};
    var by = s.by_resolved_by || {};
    setKpi("csat", score((by.bot || {}).mean) + " / " + score((by.human || {}).mean),
      t("ratings", { n: s.rated || 0, m: score(s.mean) }));
    var a = (m.agent_times || {}).first_response_s || {};
    setKpi("first_response_p50", duration(a.p50), t("p90", { t: duration(a.p90) }));
  }

  // ------------------------------------------------------------------------------------------
  // Rendering: charts
  // ------------------------------------------------------------------------------------------

  function chart(name, config) {
    if (!state.chartsAvailable) return null;
    var canvas = $("chart-" + name);
    if (!canvas) return null;
    if (state.charts[name]) {
      state.charts[name].destroy();
      delete state.charts[name];
    }
    config.options = Object.assign({
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
    }, config.options || {});
    state.charts[name] = new window.Chart(canvas, config);
    canvas.setAttribute("data-rendered", "1");
    return state.charts[name];
  }

  function shortDay(day) {
    return String(day || "").slice(5);
  }

  function renderCharts(m) {
    var days = (m.conversations_per_day || {}).days || [];
    chart("conversations_per_day", {
      type: "line",
      data: {
        labels: days.map(function (d) { return shortDay(d.day); }),
        datasets: [
          { label: t("conversations"), data: days.map(function (d) { return d.conversations; }), borderColor: COLORS.brand,
            backgroundColor: "rgba(214,56,63,.12)", fill: true, tension: 0.25, pointRadius: days.length > 45 ? 0 : 2 },
          { label: t("membersSeries"), data: days.map(function (d) { return d.members; }), borderColor: COLORS.blue,
            backgroundColor: COLORS.blue, tension: 0.25, pointRadius: days.length > 45 ? 0 : 2 }
        ]
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });

    var intents = ((m.intents || {}).intents || []).slice(0, 12);
    chart("intents", {
      type: "bar",
      data: {
        labels: intents.map(function (i) { return i.intent; }),
        datasets: [{ label: t("messages"), data: intents.map(function (i) { return i.count; }), backgroundColor: COLORS.blue }]
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });

    var reasons = (m.handoffs || {}).reasons || [];
    document.querySelector('[data-empty="handoffs"]').hidden = reasons.length > 0;
    chart("handoffs", {
      type: "doughnut",
      data: {
        labels: reasons.map(function (r) { return label("reason", r.reason); }),
        datasets: [{ data: reasons.map(function (r) { return r.count; }), backgroundColor: PALETTE.slice(0, Math.max(reasons.length, 1)) }]
      }
    });

    var sentiment = m.sentiment || {};
    var emotion = sentiment.emotion || {};
    chart("emotions", {
      type: "bar",
      data: {
        labels: EMOTIONS.map(function (e) { return label("emotion", e); }),
        datasets: [{ label: t("messages"), data: EMOTIONS.map(function (e) { return emotion[e] || 0; }),
          backgroundColor: EMOTIONS.map(function (e) { return EMOTION_COLORS[e]; }) }]
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });

    var trend = sentiment.trend || [];
    chart("sentiment", {
      type: "bar",
      data: {
        labels: trend.map(function (d) { return shortDay(d.day); }),
        datasets: POLARITIES.map(function (p) {
          return { label: label("polarity", p), backgroundColor: POLARITY_COLORS[p],
            data: trend.map(function (d) { return (d.polarity || {})[p] || 0; }) };
        })
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    });

    var csat = (m.csat || {}).by_resolved_by || {};
    var groups = ["bot", "human"];
    chart("csat", {
      type: "bar",
      data: {
        labels: groups.map(function (g) {
          return label("resolvedBy", g) + " (" + (((csat[g] || {}).rated) || 0) + ")";
        }),
        datasets: [{ label: t("meanScore"), data: groups.map(function (g) { return num((csat[g] || {}).mean); }),
          backgroundColor: [COLORS.blue, COLORS.amber] }]
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { min: 0, max: 5 } } }
    });

    var rec = m.recommendations || {};
    var coupons = m.coupons || {};
    var rates = [rec.click_through_rate, coupons.claim_rate, coupons.redemption_rate];
    chart("conversion", {
      type: "bar",
      data: {
        labels: [t("ctr"), t("claimRate"), t("redemptionRate")],
        datasets: [{ label: t("rate"), data: rates.map(function (r) { var v = num(r); return v === null ? null : Math.round(v * 1000) / 10; }),
          backgroundColor: [COLORS.purple, COLORS.brand, COLORS.green] }]
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } } } }
    });
    $("conversion-note").textContent = t("conversionNote", {
      a: rec.conversations_with_recommendations || 0, b: rec.engaged || 0, c: coupons.conversations_offered || 0,
      d: coupons.conversations_offered_and_claimed || 0, e: coupons.redeemed || 0
    });
  }

  // ------------------------------------------------------------------------------------------
  // Rendering: tables
  // ------------------------------------------------------------------------------------------

  function headRow(table, cells) {
    var thead = el("thead");
    var tr = el("tr");
    cells.forEach(function (text) { tr.appendChild(el("th", null, text)); });
    thead.appendChild(tr);
    table.appendChild(thead);
  }

  function row(cells, attrs, className) {
    var tr = el("tr", className, null, attrs);
    cells.forEach(function (cell) {
      if (cell && cell.nodeType) {
        var td = el("td");
        td.appendChild(cell);
        tr.appendChild(td);
      } else {
        tr.appendChild(el("td", null, cell === undefined || cell === null ? "" : cell));
      }
    });
    return tr;
  }

  function emptyRow(table, columns, text) {
    var tbody = el("tbody");
    var td = el("td", "empty-cell", text, { colspan: columns });
    var tr = el("tr");
    tr.appendChild(td);
    tbody.appendChild(tr);
    table.appendChild(tbody);
  }

  function renderSentimentChange(change) {
    var table = $("table-sentiment_change");
    table.textContent = "";
    headRow(table, [t("first")].concat(POLARITIES.map(function (p) { return label("polarity", p); })));
    var tbody = el("tbody");
    var matrix = change.matrix || {};
    var max = 0;
    POLARITIES.forEach(function (a) { POLARITIES.forEach(function (b) { max = Math.max(max, ((matrix[a] || {})[b]) || 0); }); });
    POLARITIES.forEach(function (first) {
      var tr = el("tr");
      tr.appendChild(el("th", null, label("polarity", first)));
      POLARITIES.forEach(function (last) {
        var n = ((matrix[first] || {})[last]) || 0;
        var level = max ? Math.ceil((n / max) * 4) : 0;
        var kind = POLARITIES.indexOf(last) > POLARITIES.indexOf(first) ? "up" : (last === first ? "same" : "down");
        tr.appendChild(el("td", "heat heat-" + kind + " heat-" + level, String(n)));
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    $("sentiment-change-summary").textContent = t("improved", {
      a: change.improved || 0, b: change.worsened || 0, c: change.unchanged || 0
    });
  }

  function renderAgentTimes(times) {
    var table = $("table-agent_times");
    table.textContent = "";
    headRow(table, [t("agent"), t("handoffsCol"), t("waitClaim"), t("firstResponse"), t("resolution")]);
    var tbody = el("tbody");
    function pair(stats) { stats = stats || {}; return duration(stats.p50) + " / " + duration(stats.p90); }
    tbody.appendChild(row([t("all"), String(times.handoffs || 0), duration((times.wait_to_claim_s || {}).p50),
      pair(times.first_response_s), pair(times.resolution_s)], { "data-testid": "agent-times-all" }, "total-row"));
    (times.by_agent || []).forEach(function (agent) {
      tbody.appendChild(row([agent.agent_name || ("#" + agent.agent_id), String(agent.handoffs || 0), "—",
        pair(agent.first_response_s), pair(agent.resolution_s)], { "data-testid": "agent-times-row" }));
    });
    table.appendChild(tbody);
  }

  function renderNegative(list) {
    var table = $("table-ended_negative");
    table.textContent = "";
    $("negative-count").textContent = String(list.count || 0);
    var items = list.conversations || [];
    var columns = [t("time"), t("tier"), t("segment"), t("emotion"), t("outcome"), t("csat"), t("lastMessage")];
    headRow(table, columns);
    if (!items.length) { emptyRow(table, columns.length, t("noNegative")); return; }
    var tbody = el("tbody");
    items.forEach(function (item) {
      var outcome = (item.handoff ? t("handoffYes") + " · " : "") + label("resolvedBy", item.resolved_by || "unresolved");
      var tr = row([stamp(item.started_at), label("tier", item.tier || "anonymous"), label("segment", item.segment),
        item.last_emotion ? label("emotion", item.last_emotion) : "—", outcome,
        item.csat === null || item.csat === undefined ? "—" : String(item.csat), item.last_text_masked || ""],
      { "data-testid": "negative-row", "data-key": item.conversation_key, tabindex: "0", role: "button" },
      item.conversation_key === state.transcriptKey ? "clickable active" : "clickable");
      tr.addEventListener("click", function () { openTranscript(item.conversation_key); });
      tr.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); openTranscript(item.conversation_key); }
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
  }

  function renderClusters() {
    var table = $("table-unrecognized");
    var current = state.clusters || { state: "loading", clusters: [] };
    var clusters = current.clusters || [];
    table.textContent = "";
    table.setAttribute("data-state", current.state);
    var columns = [t("cluster"), t("size"), t("examples")];
    headRow(table, columns);
    if (current.state === "loading") { emptyRow(table, columns.length, t("loading")); return; }
    if (current.state === "error") { emptyRow(table, columns.length, current.error || t("loadFailed")); return; }
    if (!clusters.length) { emptyRow(table, columns.length, t("noClusters")); return; }
    var tbody = el("tbody");
    clusters.forEach(function (cluster) {
      var examples = el("ul", "examples");
      (cluster.examples || []).slice(0, 3).forEach(function (text) { examples.appendChild(el("li", null, text)); });
      tbody.appendChild(row([cluster.label || "—", String(cluster.size || 0), examples], { "data-testid": "cluster-row" }));
    });
    table.appendChild(tbody);
  }

  function renderBreakdown() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-by]"), function (button) {
      button.classList.toggle("active", button.getAttribute("data-by") === state.breakdownBy);
    });
    var table = $("table-breakdown");
    table.textContent = "";
    var columns = [t("value"), t("conversations"), t("containment"), t("handoffRate"), t("csat")];
    headRow(table, columns);
    var data = state.breakdown;
    if (!data || data.by !== state.breakdownBy) return;
    var prefix = data.by === "tier" ? "tier" : "segment";
    if (!data.rows.length) {
      emptyRow(table, columns.length, data.error || t("noData"));
    } else {
      var tbody = el("tbody");
      data.rows.forEach(function (r) {
        var c = r.containment || {}, h = r.handoffs || {}, s = r.csat || {};
        tbody.appendChild(row([optionLabel(r, prefix), String(c.conversations !== undefined ? c.conversations : (h.conversations || 0)),
          pct(c.containment_rate), pct(h.handoff_rate), score(s.mean)], { "data-testid": "breakdown-row", "data-value": r.value }));
      });
      table.appendChild(tbody);
    }
    chart("breakdown", {
      type: "bar",
      data: {
        labels: data.rows.map(function (r) { return optionLabel(r, prefix); }),
        datasets: [
          { label: t("containment"), backgroundColor: COLORS.green,
            data: data.rows.map(function (r) { var v = num((r.containment || {}).containment_rate); return v === null ? null : Math.round(v * 1000) / 10; }) },
          { label: t("handoffRate"), backgroundColor: COLORS.brand,
            data: data.rows.map(function (r) { var v = num((r.handoffs || {}).handoff_rate); return v === null ? null : Math.round(v * 1000) / 10; }) }
        ]
      },
      options: { scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } } } }
    });
  }

  function renderAll() {
    var data = state.data;
    if (!data) return;
    var m = metricsOf(data);
    renderKpis(m);
    renderCharts(m);
    renderSentimentChange(m.sentiment_change || {});
    renderAgentTimes(m.agent_times || {});
    renderNegative(m.ended_negative || {});
    renderClusters();
    var updated = data.updated_at;
    $("updated-at").textContent = updated ? t("updated", { t: stamp(updated) }) : "";
  }

  // ------------------------------------------------------------------------------------------
  // Drill-down
  // ------------------------------------------------------------------------------------------

  function openTranscript(key) {
    if (!key) return;
    state.transcriptKey = key;
    state.transcript = null;
    Array.prototype.forEach.call(document.querySelectorAll('[data-testid="negative-row"]'), function (tr) {
      tr.classList.toggle("active", tr.getAttribute("data-key") === key);
    });
    var panel = $("transcript-panel");
    panel.hidden = false;
    panel.setAttribute("data-state", "loading");
    panel.setAttribute("data-key", key);
    $("transcript-meta").textContent = t("transcriptLoading");
    $("transcript-messages").textContent = "";
    api("GET", "/ops/api/conversations/" + encodeURIComponent(key) + "/transcript").then(function (data) {
      if (state.transcriptKey !== key) return;
      state.transcript = data || { messages: [] };
      renderTranscript();
      panel.setAttribute("data-state", "ready");
    }, function (error) {
      if (state.transcriptKey !== key) return;
      $("transcript-meta").textContent = error && error.status === 404 ? t("transcriptMissing") : errorText(error);
      panel.setAttribute("data-state", "error");
    });
  }

  function renderTranscript() {
    var data = state.transcript;
    if (!data) return;
    var meta = $("transcript-meta");
    meta.textContent = "";
    meta.appendChild(el("div", "meta-line", t("started", { t: stamp(data.started_at) })));
    meta.appendChild(el("div", "meta-line", label("resolvedBy", data.resolved_by || "unresolved") +
      (data.member_id ? " · " + data.member_id : " · " + label("tier", "anonymous"))));
    var body = $("transcript-messages");
    body.textContent = "";
    (data.messages || []).forEach(function (message) {
      var speaker = message.speaker || "bot";
      var item = el("div", "tmsg tmsg-" + speaker, null, { "data-testid": "transcript-message", "data-speaker": speaker });
      var head = el("div", "tmsg-head");
      head.appendChild(el("strong", null, label("speaker", speaker)));
      head.appendChild(el("span", null, stamp(message.at).slice(11)));
      if (message.intent) head.appendChild(el("span", "chip chip-intent", message.intent));
      if (message.emotion) head.appendChild(el("span", "chip chip-" + message.emotion, label("emotion", message.emotion)));
      item.appendChild(head);
      item.appendChild(el("div", "tmsg-text", message.text_masked || (message.payload_type ? "[" + message.payload_type + "]" : ""),
        { "data-testid": "transcript-text" }));
      body.appendChild(item);
    });
  }

  function closeTranscript() {
    state.transcriptKey = null;
    state.transcript = null;
    $("transcript-panel").hidden = true;
    Array.prototype.forEach.call(document.querySelectorAll('[data-testid="negative-row"]'), function (tr) {
      tr.classList.remove("active");
    });
  }

  // ------------------------------------------------------------------------------------------
  // Start
  // ------------------------------------------------------------------------------------------

  function onLanguage() {
    translateOptions();
    renderAll();
    renderBreakdown();
    if (state.transcript) renderTranscript();
  }

  function init() {
    state.chartsAvailable = typeof window.Chart === "function";
    if (state.chartsAvailable) {
      window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      window.Chart.defaults.color = "#4b5563";
    } else {
      $("charts-unavailable").hidden = false;
      document.body.classList.add("no-charts");
    }
    var params = new URLSearchParams(window.location.search);
    FILTER_KEYS.forEach(function (key) { state.filters[key] = (params.get(key) || "").slice(0, 40); });
    translateOptions();
    writeForm();

    Array.prototype.forEach.call(document.querySelectorAll("input[data-csrf-field]"), function (input) {
      if (!input.value) input.value = csrfToken();
    });
    $("filters").addEventListener("submit", function (event) {
      event.preventDefault();
      apply();
    });
    ["filter-tier", "filter-segment"].forEach(function (id) { $(id).addEventListener("change", apply); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-preset]"), function (button) {
      button.addEventListener("click", function () { applyPreset(Number(button.getAttribute("data-preset"))); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-by]"), function (button) {
      button.addEventListener("click", function () {
        if (state.breakdownBy === button.getAttribute("data-by")) return;
        state.breakdownBy = button.getAttribute("data-by");
        state.breakdown = null;
        renderBreakdown();
        loadBreakdown();
      });
    });
    $("refresh").addEventListener("click", refresh);
    $("transcript-close").addEventListener("click", closeTranscript);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !$("transcript-panel").hidden) closeTranscript();
    });
    document.addEventListener("site:lang", onLanguage);

    load();
  }

  window.OpsDashboard = {
    state: state,
    charts: state.charts,
    reload: function () { load(); },
    loads: function () { return state.loads; }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
