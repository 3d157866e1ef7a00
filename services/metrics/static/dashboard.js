/* 同心·数据看板 — the operators' dashboard. Plain JS, no build step, nothing from outside:
   every figure comes from the stats API (v1/stats, v1/stats/daily, v1/stats/ranking), every
   figure's label, unit and definition from v1/figures (services/metrics/domain/catalogue.py), and
   the lists behind the counts from v1/lists. Charts are inline SVG drawn at the pixel width
   they are shown at, so labels keep their size on a phone. URLs are relative: the page works
   behind a gateway's path prefix. The token comes from ?token= and is kept in
   sessionStorage; the scope, the period and an open list live in the URL hash
   (#scope=…&period=30&list=…), so a reload or a shared link shows the same. */
(function () {
  "use strict";

  var OrgPath = window.TongxinOrgPath;
  var REFRESH_S = Number(
    (document.querySelector('meta[name="tongxin-refresh-seconds"]') || {}).content
  ) || 15;
  var TOKEN_KEY = "tongxin.dashboard.token";
  var LANG_KEY = "tongxin.dashboard.lang";
  var SVG = "http://www.w3.org/2000/svg";
  var PHONE = window.matchMedia("(max-width: 800px)");

  var TEXT = {
    zh: {
      title: "同心·数据看板",
      window: "时间范围",
      window_all: "全部",
      window_7: "近7天",
      window_30: "近30天",
      window_90: "近90天",
      window_custom: "自定义",
      tree: "下级单位",
      funnel: "办理漏斗",
      trend: "每日趋势",
      categories: "服务类别（需求数）",
      ranking: "社区先锋指数排名",
      switch_lang: "English",
      district: "区",
      street: "街道",
      community: "社区",
      grid: "网格",
      no_children: "没有下级单位",
      no_data: "暂无数据",
      rank: "名次",
      unit: "社区",
      updated: "更新于",
      refreshing: "每 {s} 秒自动刷新",
      offline: "连接失败，将自动重试",
      missing_token:
        "缺少访问令牌。请在地址后加上 <code>?token=…</code> 打开本页；令牌可由管理员用 " +
        "<code>tongxin token --role operator --scope 区名</code> 生成。",
      bad_token: "访问令牌无效或已过期，请重新获取令牌后用 <code>?token=…</code> 打开本页。",
      forbidden: "该令牌无权查看统计（仅限管理员和运营人员）。",
      not_found: "无权查看该范围，已返回令牌所属范围。",
      more: "更多指标",
      backlog: "待办提醒（当前）",
      pending: "待核实（不计入合计）",
      list_of: "明细",
      back: "返回看板",
      rows: "条",
      export_xlsx: "导出 Excel",
      export_csv: "导出 CSV",
      monthly: "月度报告",
      month: "月份",
      formula: "计算方法",
      when: "时间",
      where: "所在社区",
      category: "类别",
      stage: "状态",
      due: "截止",
      name: "姓名",
      party: "党员",
      registered: "报到时间",
      members: "队员人数",
      formed: "组建时间",
      yes: "是",
      no: "否",
      sec: "秒",
      min: "分钟",
      hr: "小时",
      day: "天",
      yuan: "元",
      stage_pending_review: "待审核",
      stage_open: "待认领",
      stage_claimed: "进行中",
      stage_completed: "已办结",
      stage_confirmed: "已评价",
      stage_rejected: "已驳回",
      stage_cancelled: "已取消",
    },
    en: {
      title: "Tongxin dashboard",
      window: "Window",
      window_all: "All time",
      window_7: "Last 7 days",
      window_30: "Last 30 days",
      window_90: "Last 90 days",
      window_custom: "Custom",
      tree: "Units below",
      funnel: "Funnel",
      trend: "Daily trend",
      categories: "Categories (needs posted)",
      ranking: "Communities by pioneer index",
      switch_lang: "中文",
      district: "district",
      street: "street",
      community: "community",
      grid: "grid",
      no_children: "No units below",
      no_data: "No data yet",
      rank: "#",
      unit: "Community",
      updated: "Updated",
      refreshing: "refreshes every {s} s",
      offline: "Connection failed; retrying automatically",
      missing_token:
        "No access token. Open this page with <code>?token=…</code> in its address; an admin " +
        "mints one with <code>tongxin token --role operator --scope DISTRICT</code>.",
      bad_token: "The access token is invalid or expired; open the page again with a new " +
        "<code>?token=…</code>.",
      forbidden: "This token may not read figures (admins and operators only).",
      not_found: "That scope is outside the token's; back to the token's scope.",
      more: "More figures",
      backlog: "To follow up (now)",
      pending: "Awaiting verification (not in the sums)",
      list_of: "List",
      back: "Back to the dashboard",
      rows: "rows",
      export_xlsx: "Export Excel",
      export_csv: "Export CSV",
      monthly: "Monthly report",
      month: "Month",
      formula: "Formula",
      when: "When",
      where: "Community",
      category: "Category",
      stage: "Stage",
      due: "Due",
      name: "Name",
      party: "Party member",
      registered: "Reported in",
      members: "Members",
      formed: "Formed",
      yes: "yes",
      no: "no",
      sec: "s",
      min: "min",
      hr: "h",
      day: "d",
      yuan: "CNY",
      stage_pending_review: "pending review",
      stage_open: "open",
      stage_claimed: "claimed",
      stage_completed: "completed",
      stage_confirmed: "confirmed",
      stage_rejected: "rejected",
      stage_cancelled: "cancelled",
    }
  };


  // Which figures the cards show (labels and units come from v1/figures); the first ones
  // are the headline, the rest fold away on a phone.
  var HEADLINE = [
    "needs_posted", "needs_approved", "needs_claimed", "tasks_completed", "tasks_confirmed",
    "pioneer_index"
  ];
  var MORE = [
    "claims", "team_claims", "organization_claims", "claim_rate", "completion_rate",
    "median_time_to_claim_s", "median_time_to_complete_s", "volunteers_registered",
    "party_members_registered", "volunteers_active", "teams", "beneficiaries_served",
    "volunteer_hours", "goods_count", "funds_cents", "average_rating", "on_time_rate"
  ];
  var BACKLOG = ["pending_review_over_3d", "claimed_overdue", "completed_unconfirmed"];
  // Declared figures still awaiting verification: shown apart, never in the sums above.
  var PENDING = [
    "pending_completions", "pending_volunteer_hours", "pending_beneficiaries_served",
    "pending_goods_count", "pending_funds_cents"
  ];
  var FUNNEL = ["needs_posted", "needs_approved", "needs_claimed", "tasks_completed",
    "tasks_confirmed"];
  var FUNNEL_COLOURS = ["#c53030", "#dd6b20", "#2b6cb0", "#2f855a", "#b7791f"];
  var TREND = [
    ["needs_posted", "#c53030"],
    ["needs_claimed", "#2b6cb0"],
    ["tasks_completed", "#2f855a"]
  ];
  var PERIODS = ["all", "7", "30", "90"];

  var state = {
    lang: "zh",
    token: null,
    root: null,
    scope: null,
    period: "all",
    from: null,
    to: null,
    list: null,
    category: null,
    tz: "Asia/Shanghai",
    figures: {},
    formula: { zh: "", en: "" },
    categoryNames: {},
    names: {},
    stats: null,
    daily: null,
    ranking: null,
    rows: null,
    loading: false,
    again: false,
    noticeKey: null,
    updatedAt: null,
    offline: false
  };

  function $(id) { return document.getElementById(id); }
  function t(key) { return (TEXT[state.lang] || TEXT.zh)[key] || key; }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function locale() { return state.lang === "zh" ? "zh-CN" : "en-US"; }

  // --- the figure catalogue -----------------------------------------------------------

  function spec(name) { return state.figures[name] || { name: name, zh: name, en: name }; }

  function label(name) {
    var f = spec(name);
    return state.lang === "zh" ? f.zh : f.en;
  }

  function definition(name) {
    var f = spec(name);
    return (state.lang === "zh" ? f.definition_zh : f.definition) || "";
  }

  function duration(seconds) {
    if (seconds < 60) return Math.round(seconds) + " " + t("sec");
    if (seconds < 3600) return (seconds / 60).toFixed(1) + " " + t("min");
    if (seconds < 86400) return (seconds / 3600).toFixed(1) + " " + t("hr");
    return (seconds / 86400).toFixed(1) + " " + t("day");
  }

  // A value in the unit that fits it, from the figure's unit in the catalogue.
  function fmt(value, unit) {
    if (value === null || value === undefined) return "—";
    var n = Number(value);
    switch (unit) {
      case "ratio": return (n * 100).toFixed(1) + "%";
      case "index": return n.toFixed(1);
      case "rating": return n.toFixed(2);
      case "seconds": return duration(n);
      case "hours":
        return n.toLocaleString(locale(), { maximumFractionDigits: 1 }) + " " + t("hr");
      case "fen":
        return (n / 100).toLocaleString(locale(), {
          minimumFractionDigits: 2, maximumFractionDigits: 2
        }) + " " + t("yuan");
      default: return n.toLocaleString(locale());
    }
  }

  function show(name, value) { return fmt(value, spec(name).unit); }

  // --- token, scope, period and list: the URL hash ------------------------------------

  function readToken() {
    var params = new URLSearchParams(location.search);
    var fromUrl = params.get("token");
    if (fromUrl) {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
      params.delete("token");
      var rest = params.toString();
      history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function tokenScope(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var json = decodeURIComponent(Array.prototype.map.call(atob(part), function (c) {
        return "%" + ("00" + c.charCodeAt(0).toString(16)).slice(-2);
      }).join(""));
      return JSON.parse(json).scope || null;
    } catch (e) {
      return null;
    }
  }

  function hashParams() { return new URLSearchParams(location.hash.replace(/^#/, "")); }

  // Reads the hash into the state; true when anything changed.
  function readHash() {
    var h = hashParams();
    var query = new URLSearchParams(location.search);
    var wanted = h.get("scope") || query.get("scope");
    var next = {
      scope: wanted && OrgPath.covers(state.root, wanted) ? wanted : state.root,
      from: h.get("from") || query.get("from"),
      to: h.get("to") || query.get("to"),
      period: h.get("period"),
      list: h.get("list"),
      category: h.get("category")
    };
    if (!next.period) next.period = next.from || next.to ? "custom" : "all";
    if (next.period !== "custom") { next.from = null; next.to = null; }
    var changed = false;
    Object.keys(next).forEach(function (k) {
      if (state[k] !== next[k]) { state[k] = next[k]; changed = true; }
    });
    return changed;
  }

  function hashOf(changes) {
    var v = {
      scope: state.scope, period: state.period, from: state.from, to: state.to,
      list: state.list, category: state.category
    };
    Object.keys(changes || {}).forEach(function (k) { v[k] = changes[k]; });
    var h = new URLSearchParams();
    h.set("scope", v.scope);
    h.set("period", v.period);
    if (v.period === "custom") {
      if (v.from) h.set("from", v.from);
      if (v.to) h.set("to", v.to);
    }
    if (v.list) h.set("list", v.list);
    if (v.list && v.category) h.set("category", v.category);
    return "#" + h.toString();
  }

  function goTo(changes) { location.hash = hashOf(changes); }

  function dayIn(tz, offsetDays) {
    var d = new Date(Date.now() - offsetDays * 86400000);
    return new Intl.DateTimeFormat("en-CA", {
      timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit"
    }).format(d);
  }

  // The month before today's (a monthly report is made once the month is over).
  function lastMonth() {
    var parts = dayIn(state.tz, 0).split("-").map(Number);
    var year = parts[1] === 1 ? parts[0] - 1 : parts[0];
    var month = parts[1] === 1 ? 12 : parts[1] - 1;
    return year + "-" + (month < 10 ? "0" : "") + month;
  }

  function windowParams() {
    if (state.period === "custom") return { from: state.from, to: state.to };
    if (state.period === "all" || PERIODS.indexOf(state.period) < 0) return {};
    var days = Number(state.period);
    return { from: dayIn(state.tz, days - 1), to: dayIn(state.tz, 0) };
  }

  // --- the API (relative URLs) --------------------------------------------------------

  function ApiFailure(status, body) { this.status = status; this.body = body; }

  function request(path, params) {
    var query = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      if (params[k] !== null && params[k] !== undefined) query.set(k, params[k]);
    });
    return fetch(path + "?" + query.toString(), {
      headers: { Authorization: "Bearer " + state.token },
      cache: "no-store"
    });
  }

  function api(path, params) {
    return request(path, params).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (body) {
        if (!resp.ok) throw new ApiFailure(resp.status, body);
        return body;
      });
    });
  }

  function notice(key) {
    // Only our own fixed texts go into innerHTML (they hold <code> tags).
    state.noticeKey = key;
    var box = $("notice");
    box.setAttribute("data-notice", key || "");
    if (key) {
      box.innerHTML = t(key);
      box.hidden = false;
    } else {
      box.hidden = true;
      box.innerHTML = "";
    }
  }

  function refresh() {
    if (!state.token) return Promise.resolve();
    if (state.loading) {
      state.again = true;  // the scope or window changed while a refresh was on its way
      return Promise.resolve();
    }
    state.loading = true;
    state.again = false;
    var scope = state.scope;
    var win = windowParams();
    var daily = win.from || win.to ? { scope: scope, from: win.from, to: win.to } : { scope: scope };
    var asks = [
      api("v1/stats", { scope: scope, from: win.from, to: win.to }),
      api("v1/stats/daily", daily),
      api("v1/stats/ranking", { scope: scope, from: win.from, to: win.to, limit: 20 })
    ];
    if (state.list) {
      asks.push(api("v1/lists/" + encodeURIComponent(state.list), {
        scope: scope, from: win.from, to: win.to, category: state.category
      }));
    }
    return Promise.all(asks).then(function (answers) {
      state.stats = answers[0];
      state.daily = answers[1];
      state.ranking = answers[2];
      state.rows = answers[3] || null;
      state.tz = state.stats.timezone || state.tz;
      state.updatedAt = new Date();
      state.offline = false;
      notice(null);
      $("main").hidden = false;
      render();
    }).catch(function (err) {
      if (err instanceof ApiFailure && err.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        state.token = null;
        $("main").hidden = true;
        notice("bad_token");
      } else if (err instanceof ApiFailure && err.status === 403) {
        $("main").hidden = true;
        notice("forbidden");
      } else if (err instanceof ApiFailure && err.status === 404 && scope !== state.root) {
        notice("not_found");
        goTo({ scope: state.root, list: null });
      } else if (err instanceof ApiFailure && err.status === 404 && state.list) {
        goTo({ list: null });
      } else {
        state.offline = true;
        renderStatus();
      }
    }).then(function () {
      state.loading = false;
      if (state.again) refresh();
    });
  }

  // Downloads a report with the token (a plain link could not send it).
  function download(path, filename, open) {
    var win = windowParams();
    var params = { scope: state.scope, from: win.from, to: win.to };
    if (open) params = { scope: state.scope, month: $("month").value || lastMonth() };
    var tab = open ? window.open("", "_blank") : null;
    return request(path, params).then(function (resp) {
      if (!resp.ok) throw new ApiFailure(resp.status, null);
      return resp.blob();
    }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      if (tab) {
        tab.location.href = url;
      } else {
        var a = el("a", { href: url, download: filename });
        document.body.appendChild(a);
        a.click();
        a.remove();
      }
      setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
    }).catch(function () {
      if (tab) tab.close();
      state.offline = true;
      renderStatus();
    });
  }

  // --- rendering ----------------------------------------------------------------------

  function render() {
    renderTexts();
    if (state.noticeKey) notice(state.noticeKey);
    if (!state.stats) return;
    learnNames();
    renderTitle();
    renderBreadcrumb();
    var listing = Boolean(state.list && state.rows);
    $("dashboard-view").hidden = listing;
    $("list-view").hidden = !listing;
    if (listing) {
      renderList();
    } else {
      renderCards();
      renderTree();
      renderFunnel();
      renderTrend();
      renderCategories();
      renderRanking();
    }
    renderStatus();
  }

  function renderTexts() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = t("title");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    $("lang").textContent = t("switch_lang");
    $("lang").setAttribute("lang", state.lang === "zh" ? "en" : "zh-CN");
    $("window").value = state.period;
    $("window").querySelector('option[value="custom"]').hidden = state.period !== "custom";
  }

  function unitName(unit) { return unit.name || unit.scope; }

  // Names of org units seen in any answer, for the breadcrumb and the ranking.
  function learnNames() {
    var units = [state.stats].concat(state.stats.ancestors || [], state.stats.children || [],
      (state.ranking && state.ranking.items) || []);
    units.forEach(function (u) { if (u && u.name) state.names[u.scope] = u.name; });
  }

  function nameOf(path) { return state.names[path] || OrgPath.last(path); }

  function renderTitle() {
    var title = $("scope-title");
    clear(title);
    title.appendChild(document.createTextNode(unitName(state.stats)));
    title.appendChild(el("span", { "class": "level" }, t(state.stats.level)));
  }

  function renderBreadcrumb() {
    var nav = $("breadcrumb");
    clear(nav);
    OrgPath.lineage(state.root, state.scope).forEach(function (path, i) {
      if (i > 0) nav.appendChild(el("span", { "class": "sep" }, "›"));
      if (path === state.scope && !state.list) {
        nav.appendChild(el("strong", { "data-scope": path }, nameOf(path)));
      } else {
        nav.appendChild(el("a", { href: hashOf({ scope: path, list: null }), "data-scope": path },
          nameOf(path)));
      }
    });
  }

  function listLink(name, category) {
    return hashOf({ list: name, category: category || null });
  }

  function card(name, key) {
    var value = state.stats[name];
    var node = el("div", {
      "class": key ? "card key" : "card",
      id: "figure-" + name,
      "data-figure": name,
      "data-raw": value === null || value === undefined ? "" : String(value),
      title: definition(name)
    });
    node.appendChild(el("div", { "class": "label" }, label(name)));
    if (spec(name).rows) {
      var link = el("a", { "class": "value", href: listLink(name), "data-list": name },
        show(name, value));
      node.appendChild(link);
    } else {
      node.appendChild(el("div", { "class": "value" }, show(name, value)));
    }
    if (name === "pioneer_index") {
      node.classList.add("wide-card");
      node.appendChild(el("div", { "class": "formula", "data-formula": "pioneer_index" },
        t("formula") + ": " + state.formula[state.lang]));
    }
    return node;
  }

  function renderCards() {
    [["headline", HEADLINE, true], ["backlog-cards", BACKLOG, true], ["more-cards", MORE, false],
      ["pending-cards", PENDING, false]]
      .forEach(function (group) {
        var box = $(group[0]);
        clear(box);
        group[1].forEach(function (name) { box.appendChild(card(name, group[2])); });
      });
  }

  function renderTree() {
    var list = $("tree");
    clear(list);
    var children = state.stats.children || [];
    if (!children.length) {
      list.appendChild(el("li", { "class": "empty" }, t("no_children")));
      return;
    }
    children.forEach(function (child) {
      var item = el("li", { "data-scope": child.scope, tabindex: "0" });
      item.appendChild(el("span", { "class": "name" }, unitName(child)));
      item.appendChild(el("span", { "class": "meta" },
        label("needs_posted") + " " + show("needs_posted", child.needs_posted) + " · " +
        label("pioneer_index") + " " + show("pioneer_index", child.pioneer_index)));
      item.addEventListener("click", function () { goTo({ scope: child.scope }); });
      item.addEventListener("keydown", function (e) {
        if (e.key === "Enter") goTo({ scope: child.scope });
      });
      list.appendChild(item);
    });
  }

  // The pixel width a chart is shown at: it is drawn in that many units, so text keeps
  // its CSS size (12 px and more) on a phone instead of shrinking with a fixed viewBox.
  function chartWidth(svg, fallback) {
    var w = Math.round(svg.getBoundingClientRect().width || svg.parentNode.clientWidth || 0);
    return w > 0 ? w : fallback;
  }

  function renderFunnel() {
    var svg = $("funnel");
    clear(svg);
    var width = chartWidth(svg, 480);
    var labelW = Math.min(110, Math.round(width * 0.26)), valueW = 56;
    var barW = Math.max(40, width - labelW - valueW - 8);
    var values = FUNNEL.map(function (f) { return state.stats[f] || 0; });
    var max = Math.max.apply(null, values.concat([1]));
    svg.setAttribute("viewBox", "0 0 " + width + " 225");
    FUNNEL.forEach(function (name, i) {
      var y = 6 + i * 43;
      var w = Math.max(2, (values[i] / max) * barW);
      var link = svgEl("a", { href: listLink(name), "data-list": name });
      link.appendChild(svgEl("text", { x: 0, y: y + 21 }, label(name)));
      var bar = svgEl("rect", {
        x: labelW + (barW - w) / 2, y: y, width: w, height: 32, rx: 3,
        fill: FUNNEL_COLOURS[i], "data-stage": name
      });
      bar.appendChild(svgEl("title", {}, label(name) + ": " + values[i]));
      link.appendChild(bar);
      link.appendChild(svgEl("text", { x: labelW + barW + 6, y: y + 21, "data-stage-value": name },
        show(name, values[i])));
      svg.appendChild(link);
    });
  }

  function renderTrend() {
    var legend = $("trend-legend");
    clear(legend);
    TREND.forEach(function (s) {
      var item = el("span");
      item.appendChild(el("i", { style: "background:" + s[1] }));
      item.appendChild(document.createTextNode(label(s[0])));
      legend.appendChild(item);
    });
    var svg = $("trend");
    clear(svg);
    var full = chartWidth(svg, 960);
    var phone = full < 600;
    var left = 34, top = 10, width = full - left - 12, height = phone ? 160 : 210;
    svg.setAttribute("viewBox", "0 0 " + full + " " + (height + 34));
    var days = (state.daily && state.daily.days) || [];
    var max = 1;
    days.forEach(function (d) {
      TREND.forEach(function (s) { max = Math.max(max, d[s[0]]); });
    });
    var lines = phone ? 2 : 4;
    max = Math.ceil(max / lines) * lines;  // whole numbers on the grid lines
    for (var g = 0; g <= lines; g++) {
      var gy = top + height - (g / lines) * height;
      svg.appendChild(svgEl("line", { x1: left, x2: left + width, y1: gy, y2: gy, "class": "axis" }));
      svg.appendChild(svgEl("text", { x: 0, y: gy + 4, "class": "muted" },
        String(Math.round((g / lines) * max))));
    }
    if (!days.length) return;
    var step = days.length > 1 ? width / (days.length - 1) : 0;
    function xOf(i) { return left + i * step; }
    function yOf(v) { return top + height - (v / max) * height; }
    var ticks = Math.max(2, Math.floor(width / 80));  // a date label every 80 px at most
    var every = Math.max(1, Math.ceil(days.length / ticks));
    var last = days.length - 1;
    days.forEach(function (d, i) {
      // every `every` days, and the last day (right-aligned) if no tick is too close to it
      if ((i % every === 0 && (last - i >= every || i === 0)) || i === last) {
        var anchor = i === last && last > 0 ? "end" : i === 0 ? "start" : "middle";
        svg.appendChild(svgEl("text", {
          x: xOf(i), y: top + height + 22, "class": "muted", "text-anchor": anchor
        }, d.day.slice(5)));
      }
    });
    TREND.forEach(function (s) {
      var points = days.map(function (d, i) { return xOf(i) + "," + yOf(d[s[0]]); });
      svg.appendChild(svgEl("polyline", {
        points: points.join(" "), fill: "none", stroke: s[1], "stroke-width": 2,
        "data-series": s[0]
      }));
      days.forEach(function (d, i) {
        var dot = svgEl("circle", { cx: xOf(i), cy: yOf(d[s[0]]), r: 2.5, fill: s[1] });
        dot.appendChild(svgEl("title", {}, d.day + " " + label(s[0]) + ": " + d[s[0]]));
        svg.appendChild(dot);
      });
    });
  }

  function categoryName(slug) {
    var names = state.categoryNames[slug];
    if (!names) return slug;
    return state.lang === "zh" ? names.zh : names.en;
  }

  function renderCategories() {
    var svg = $("categories");
    clear(svg);
    var width = chartWidth(svg, 480);
    var rows = Object.keys(state.stats.by_category || {}).map(function (slug) {
      return [slug, state.stats.by_category[slug].needs_posted];
    }).filter(function (r) { return r[1] > 0; });
    rows.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });
    rows = rows.slice(0, 12);
    svg.setAttribute("viewBox", "0 0 " + width + " " + Math.max(60, rows.length * 26 + 10));
    if (!rows.length) {
      svg.appendChild(svgEl("text", { x: 10, y: 30, "class": "muted" }, t("no_data")));
      return;
    }
    var labelW = Math.min(130, Math.round(width * 0.32)), valueW = 44;
    var barW = Math.max(30, width - labelW - valueW - 8);
    var max = Math.max.apply(null, rows.map(function (r) { return r[1]; }));
    rows.forEach(function (r, i) {
      var y = 6 + i * 26;
      var link = svgEl("a", { href: listLink("needs_posted", r[0]), "data-list": "needs_posted",
        "data-list-category": r[0] });
      link.appendChild(svgEl("text", { x: 0, y: y + 13, "data-category": r[0] }, categoryName(r[0])));
      link.appendChild(svgEl("rect", {
        x: labelW, y: y, width: Math.max(2, (r[1] / max) * barW), height: 16, rx: 2,
        fill: "#b7791f"
      }));
      link.appendChild(svgEl("text", { x: labelW + barW + 6, y: y + 13 }, show("needs_posted", r[1])));
      svg.appendChild(link);
    });
  }

  function renderRanking() {
    var table = $("ranking");
    clear(table);
    var head = el("thead");
    var row = el("tr");
    row.appendChild(el("th", {}, t("rank")));
    row.appendChild(el("th", {}, t("unit")));
    row.appendChild(el("th", { title: state.formula[state.lang] }, label("pioneer_index")));
    row.appendChild(el("th", {}, label("completion_rate")));
    head.appendChild(row);
    table.appendChild(head);
    var body = el("tbody");
    var items = (state.ranking && state.ranking.items) || [];
    if (!items.length) {
      var empty = el("tr");
      empty.appendChild(el("td", { colspan: "4", "class": "empty" }, t("no_data")));
      body.appendChild(empty);
    }
    items.forEach(function (item) {
      var tr = el("tr", { "data-scope": item.scope, tabindex: "0" });
      tr.appendChild(el("td", { "class": "num" }, String(item.rank)));
      var up = OrgPath.parent(item.scope);
      var where = up && up !== state.scope ? nameOf(up) + " · " : "";
      tr.appendChild(el("td", {}, where + unitName(item)));
      var cell = el("td", { "class": "num" });
      cell.appendChild(el("span", {
        "class": "bar", style: "width:" + Math.round((item.pioneer_index || 0) * 0.6) + "px"
      }));
      cell.appendChild(document.createTextNode(show("pioneer_index", item.pioneer_index)));
      tr.appendChild(cell);
      tr.appendChild(el("td", { "class": "num" }, show("completion_rate", item.completion_rate)));
      tr.addEventListener("click", function () { goTo({ scope: item.scope }); });
      tr.addEventListener("keydown", function (e) {
        if (e.key === "Enter") goTo({ scope: item.scope });
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  function when(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString(locale(), {
      timeZone: state.tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit"
    });
  }

  function renderList() {
    var rows = state.rows;
    var name = rows.figure;
    var title = label(name) + (rows.category ? " · " + categoryName(rows.category) : "");
    $("list-title").textContent = t("list_of") + " · " + title;
    $("list-back").setAttribute("href", hashOf({ list: null }));
    $("list-definition").textContent = definition(name);
    var count = $("list-count");
    count.textContent = rows.total.toLocaleString(locale()) + " " + t("rows");
    count.setAttribute("data-total", String(rows.total));
    var table = $("list-table");
    clear(table);
    var kind = spec(name).rows;
    var heads = {
      volunteers: [t("name"), t("where"), t("party"), t("registered")],
      teams: [t("name"), t("where"), t("members"), t("formed")]
    }[kind] || [t("when"), t("where"), t("category"), t("stage"), t("due")];
    var head = el("tr");
    heads.forEach(function (h) { head.appendChild(el("th", {}, h)); });
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = el("tbody");
    rows.items.forEach(function (r) {
      var tr = el("tr", { "data-row": r.need_id || r.volunteer_id || r.team_id });
      var cells = {
        volunteers: function () {
          return [r.name || "—", r.community_name, r.party_member ? t("yes") : t("no"),
            when(r.registered_at)];
        },
        teams: function () {
          return [r.name, r.community_name, String(r.members), when(r.formed_at)];
        }
      }[kind];
      cells = cells ? cells() : [when(r.at || r.posted_at), r.community_name,
        categoryName(r.category), t("stage_" + r.stage), when(r.due_at)];
      cells.forEach(function (c) { tr.appendChild(el("td", {}, c)); });
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  function renderStatus() {
    var status = $("status");
    var parts = [];
    if (state.updatedAt) {
      parts.push(t("updated") + " " + state.updatedAt.toLocaleTimeString(locale()));
    }
    parts.push(t("refreshing").replace("{s}", String(REFRESH_S)));
    if (state.offline) parts.push(t("offline"));
    status.textContent = parts.join(" · ");
  }

  // --- start --------------------------------------------------------------------------

  function loadNames() {
    return Promise.all([
      api("v1/figures", {}).then(function (body) {
        body.items.forEach(function (f) { state.figures[f.name] = f; });
        state.formula = { zh: body.pioneer_formula_zh, en: body.pioneer_formula_en };
      }),
      api("v1/categories", {}).then(function (body) {
        body.items.forEach(function (c) { state.categoryNames[c.slug] = c; });
      })
    ]).catch(function () { /* labels fall back to names, categories to slugs */ });
  }

  function foldForPhone() { $("more").open = !PHONE.matches; }

  function start() {
    state.lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
    renderTexts();
    foldForPhone();
    $("lang").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      localStorage.setItem(LANG_KEY, state.lang);
      render();
    });
    state.token = readToken();
    if (!state.token) {
      notice("missing_token");
      return;
    }
    state.root = tokenScope(state.token) || new URLSearchParams(location.search).get("scope");
    if (!state.root) {
      notice("bad_token");
      return;
    }
    readHash();
    history.replaceState(null, "", location.pathname + location.search + hashOf({}));
    window.addEventListener("hashchange", function () { if (readHash()) refresh(); });
    $("window").addEventListener("change", function () {
      goTo({ period: $("window").value, list: state.list });
    });
    $("export-xlsx").addEventListener("click", function () {
      download("v1/reports/summary.xlsx", "tongxin-" + state.scope + ".xlsx");
    });
    $("export-csv").addEventListener("click", function () {
      download("v1/reports/summary.csv", "tongxin-" + state.scope + ".csv");
    });
    $("monthly").addEventListener("click", function () {
      download("v1/reports/monthly", "", true);
    });
    $("month").value = lastMonth();
    $("month").max = dayIn(state.tz, 0).slice(0, 7);
    var resized = null;
    window.addEventListener("resize", function () {
      clearTimeout(resized);
      resized = setTimeout(render, 150);
    });
    PHONE.addEventListener("change", foldForPhone);
    loadNames().then(refresh);
    setInterval(refresh, REFRESH_S * 1000);
  }

  start();
})();
