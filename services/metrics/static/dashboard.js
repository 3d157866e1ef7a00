/* 同心·数据看板 — the operators' dashboard. Plain JS, no build step, nothing from outside:
   every figure comes from the stats API (/v1/stats, /v1/stats/daily, /v1/stats/ranking),
   charts are inline SVG drawn here. The token comes from ?token= and is kept in
   sessionStorage; the org scope being viewed lives in the URL hash (#scope=...). */
(function () {
  "use strict";

  var REFRESH_S = Number(
    (document.querySelector('meta[name="tongxin-refresh-seconds"]') || {}).content
  ) || 15;
  var TOKEN_KEY = "tongxin.dashboard.token";
  var LANG_KEY = "tongxin.dashboard.lang";
  var SVG = "http://www.w3.org/2000/svg";

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
      index: "先锋指数",
      updated: "更新于",
      refreshing: "每 {s} 秒自动刷新",
      offline: "连接失败，将自动重试",
      missing_token:
        "缺少访问令牌。请在地址后加上 <code>?token=…</code> 打开本页；令牌可由管理员用 " +
        "<code>tongxin token --role operator --scope 区名</code> 生成。",
      bad_token: "访问令牌无效或已过期，请重新获取令牌后用 <code>?token=…</code> 打开本页。",
      forbidden: "该令牌无权查看统计（仅限管理员和运营人员）。",
      not_found: "无权查看该范围，已返回令牌所属范围。",
      posted: "征集",
      approved: "立项",
      claimed: "认领",
      completed: "完成",
      confirmed: "确认",
      days: "天",
      hours: "小时",
      yuan: "元",
      needs_posted: "需求征集",
      needs_approved: "立项",
      needs_claimed: "已认领",
      tasks_completed: "已完成",
      tasks_confirmed: "已确认",
      claims: "认领次数",
      team_claims: "团队认领",
      organization_claims: "单位认领",
      claim_rate: "认领率",
      completion_rate: "完成率",
      median_time_to_claim_s: "认领用时中位数",
      median_time_to_complete_s: "完成用时中位数",
      volunteers_registered: "报到党员志愿者",
      teams: "志愿服务队",
      beneficiaries_served: "服务群众（人次）",
      volunteer_hours: "服务时长（小时）",
      goods_count: "物资（件）",
      funds_cents: "资金",
      average_rating: "平均评分",
      pioneer_index: "先锋指数"
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
      index: "Pioneer index",
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
      posted: "Posted",
      approved: "Approved",
      claimed: "Claimed",
      completed: "Completed",
      confirmed: "Confirmed",
      days: "d",
      hours: "h",
      yuan: "CNY",
      needs_posted: "Needs posted",
      needs_approved: "Approved",
      needs_claimed: "Claimed",
      tasks_completed: "Completed",
      tasks_confirmed: "Confirmed",
      claims: "Claims",
      team_claims: "Team claims",
      organization_claims: "Organisation claims",
      claim_rate: "Claim rate",
      completion_rate: "Completion rate",
      median_time_to_claim_s: "Median time to claim",
      median_time_to_complete_s: "Median time to complete",
      volunteers_registered: "Volunteers reported",
      teams: "Service teams",
      beneficiaries_served: "Beneficiaries served",
      volunteer_hours: "Service hours",
      goods_count: "Goods (items)",
      funds_cents: "Funds",
      average_rating: "Average rating",
      pioneer_index: "Pioneer index"
    }
  };

  // [figure, format, headline key card]
  var HEADLINE = [
    ["needs_posted", "int", true],
    ["needs_approved", "int", true],
    ["needs_claimed", "int", true],
    ["tasks_completed", "int", true],
    ["tasks_confirmed", "int", true],
    ["pioneer_index", "index", true],
    ["claims", "int"],
    ["team_claims", "int"],
    ["organization_claims", "int"],
    ["claim_rate", "pct"],
    ["completion_rate", "pct"],
    ["median_time_to_claim_s", "duration"],
    ["median_time_to_complete_s", "duration"],
    ["volunteers_registered", "int"],
    ["teams", "int"],
    ["beneficiaries_served", "int"],
    ["volunteer_hours", "hours"],
    ["goods_count", "int"],
    ["funds_cents", "money"],
    ["average_rating", "rating"]
  ];
  var FUNNEL = [
    ["posted", "needs_posted"],
    ["approved", "needs_approved"],
    ["claimed", "needs_claimed"],
    ["completed", "tasks_completed"],
    ["confirmed", "tasks_confirmed"]
  ];
  var TREND = [
    ["needs_posted", "#c53030"],
    ["needs_claimed", "#2b6cb0"],
    ["tasks_completed", "#2f855a"]
  ];

  var state = {
    lang: "zh",
    token: null,
    root: null,
    scope: null,
    tz: "Asia/Shanghai",
    categoryNames: {},
    names: {},
    stats: null,
    daily: null,
    ranking: null,
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

  function fmt(value, kind) {
    if (value === null || value === undefined) return "—";
    var n = Number(value);
    switch (kind) {
      case "pct": return (n * 100).toFixed(1) + "%";
      case "index": return n.toFixed(1);
      case "rating": return n.toFixed(2);
      case "hours": return n.toLocaleString(locale(), { maximumFractionDigits: 1 });
      case "money":
        return (n / 100).toLocaleString(locale(), {
          minimumFractionDigits: 2, maximumFractionDigits: 2
        }) + " " + t("yuan");
      case "duration":
        return n >= 86400 ? (n / 86400).toFixed(1) + " " + t("days")
          : (n / 3600).toFixed(1) + " " + t("hours");
      default: return n.toLocaleString(locale());
    }
  }

  // --- token, scope and window --------------------------------------------------------

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

  function hashScope() {
    var match = /(?:^|[#&])scope=([^&]+)/.exec(location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function covers(root, path) { return path === root || path.indexOf(root + ".") === 0; }

  function goTo(scope) { location.hash = "scope=" + encodeURIComponent(scope); }

  function dayIn(tz, offsetDays) {
    var d = new Date(Date.now() - offsetDays * 86400000);
    return new Intl.DateTimeFormat("en-CA", {
      timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit"
    }).format(d);
  }

  function windowParams() {
    var choice = $("window").value;
    var params = new URLSearchParams(location.search);
    if (choice === "custom") {
      return { from: params.get("from"), to: params.get("to") };
    }
    if (choice === "all") return {};
    var days = Number(choice);
    return { from: dayIn(state.tz, days - 1), to: dayIn(state.tz, 0) };
  }

  // --- the API ------------------------------------------------------------------------

  function ApiFailure(status, body) { this.status = status; this.body = body; }

  function api(path, params) {
    var query = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      if (params[k] !== null && params[k] !== undefined) query.set(k, params[k]);
    });
    // Relative ("v1/stats"): the page works at :8004/dashboard and at the gateway's
    // /api/metrics/dashboard alike.
    return fetch(path.replace(/^\//, "") + "?" + query.toString(), {
      headers: { Authorization: "Bearer " + state.token, Accept: "application/json" },
      cache: "no-store"
    }).then(function (resp) {
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
    var daily = { scope: scope, from: win.from, to: win.to };
    if (!win.from && !win.to) daily = { scope: scope };
    return Promise.all([
      api("/v1/stats", { scope: scope, from: win.from, to: win.to }),
      api("/v1/stats/daily", daily),
      api("/v1/stats/ranking", { scope: scope, from: win.from, to: win.to, limit: 20 })
    ]).then(function (answers) {
      state.stats = answers[0];
      state.daily = answers[1];
      state.ranking = answers[2];
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
        goTo(state.root);
      } else {
        state.offline = true;
        renderStatus();
      }
    }).then(function () {
      state.loading = false;
      if (state.again) refresh();
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
    renderHeadline();
    renderTree();
    renderFunnel();
    renderTrend();
    renderCategories();
    renderRanking();
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
  }

  function unitName(unit) { return unit.name || unit.scope; }

  // Names of org units seen in any answer, for the breadcrumb and the ranking.
  function learnNames() {
    var units = [state.stats].concat(state.stats.children || [],
      (state.ranking && state.ranking.items) || []);
    units.forEach(function (u) { if (u && u.name) state.names[u.scope] = u.name; });
  }

  function nameOf(path) { return state.names[path] || path.split(".").pop(); }

  function renderTitle() {
    var title = $("scope-title");
    clear(title);
    title.appendChild(document.createTextNode(unitName(state.stats)));
    title.appendChild(el("span", { "class": "level" }, t(state.stats.level)));
  }

  function renderBreadcrumb() {
    var nav = $("breadcrumb");
    clear(nav);
    var parts = state.scope.split(".");
    var rootDepth = state.root.split(".").length;
    for (var i = rootDepth; i <= parts.length; i++) {
      var path = parts.slice(0, i).join(".");
      if (i > rootDepth) nav.appendChild(el("span", { "class": "sep" }, "›"));
      var label = nameOf(path);
      if (path === state.scope) {
        nav.appendChild(el("strong", { "data-scope": path }, label));
      } else {
        var link = el("a", { href: "#scope=" + encodeURIComponent(path), "data-scope": path }, label);
        nav.appendChild(link);
      }
    }
  }

  function renderHeadline() {
    var box = $("headline");
    clear(box);
    HEADLINE.forEach(function (spec) {
      var value = state.stats[spec[0]];
      var card = el("div", {
        "class": spec[2] ? "card key" : "card",
        id: "figure-" + spec[0],
        "data-figure": spec[0],
        "data-raw": value === null ? "" : String(value)
      });
      card.appendChild(el("div", { "class": "label" }, t(spec[0])));
      card.appendChild(el("div", { "class": "value" }, fmt(value, spec[1])));
      box.appendChild(card);
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
        t("needs_posted") + " " + fmt(child.needs_posted, "int") + " · " +
        t("pioneer_index") + " " + fmt(child.pioneer_index, "index")));
      item.addEventListener("click", function () { goTo(child.scope); });
      item.addEventListener("keydown", function (e) { if (e.key === "Enter") goTo(child.scope); });
      list.appendChild(item);
    });
  }

  function renderFunnel() {
    var svg = $("funnel");
    clear(svg);
    var values = FUNNEL.map(function (f) { return state.stats[f[1]] || 0; });
    var max = Math.max.apply(null, values.concat([1]));
    FUNNEL.forEach(function (f, i) {
      var y = 10 + i * 43;
      var width = Math.max(2, (values[i] / max) * 330);
      var x = 90 + (330 - width) / 2;
      svg.appendChild(svgEl("text", { x: 0, y: y + 22 }, t(f[0])));
      var bar = svgEl("rect", {
        x: x, y: y, width: width, height: 32, rx: 3,
        fill: ["#c53030", "#dd6b20", "#2b6cb0", "#2f855a", "#b7791f"][i],
        "data-stage": f[0]
      });
      bar.appendChild(svgEl("title", {}, t(f[0]) + ": " + values[i]));
      svg.appendChild(bar);
      svg.appendChild(svgEl("text", { x: 430, y: y + 22, "data-stage-value": f[0] },
        fmt(values[i], "int")));
    });
  }

  function renderTrend() {
    var legend = $("trend-legend");
    clear(legend);
    TREND.forEach(function (spec) {
      var item = el("span");
      item.appendChild(el("i", { style: "background:" + spec[1] }));
      item.appendChild(document.createTextNode(t(spec[0])));
      legend.appendChild(item);
    });
    var svg = $("trend");
    clear(svg);
    var days = (state.daily && state.daily.days) || [];
    var left = 40, top = 10, width = 900, height = 210;
    var max = 1;
    days.forEach(function (d) {
      TREND.forEach(function (spec) { max = Math.max(max, d[spec[0]]); });
    });
    max = Math.ceil(max / 4) * 4;  // whole numbers on the four grid lines
    for (var g = 0; g <= 4; g++) {
      var gy = top + height - (g / 4) * height;
      svg.appendChild(svgEl("line", { x1: left, x2: left + width, y1: gy, y2: gy, "class": "axis" }));
      svg.appendChild(svgEl("text", { x: 0, y: gy + 4, "class": "muted" },
        String(Math.round((g / 4) * max))));
    }
    if (!days.length) return;
    var step = days.length > 1 ? width / (days.length - 1) : 0;
    function xOf(i) { return left + i * step; }
    function yOf(v) { return top + height - (v / max) * height; }
    var every = Math.max(1, Math.ceil(days.length / 8));
    days.forEach(function (d, i) {
      var last = days.length - 1;
      if ((i % every === 0 && last - i >= every / 2) || i === last) {
        svg.appendChild(svgEl("text", { x: xOf(i) - 18, y: top + height + 18, "class": "muted" },
          d.day.slice(5)));
      }
    });
    TREND.forEach(function (spec) {
      var points = days.map(function (d, i) { return xOf(i) + "," + yOf(d[spec[0]]); });
      svg.appendChild(svgEl("polyline", {
        points: points.join(" "), fill: "none", stroke: spec[1], "stroke-width": 2,
        "data-series": spec[0]
      }));
      days.forEach(function (d, i) {
        var dot = svgEl("circle", { cx: xOf(i), cy: yOf(d[spec[0]]), r: 2.5, fill: spec[1] });
        dot.appendChild(svgEl("title", {}, d.day + " " + t(spec[0]) + ": " + d[spec[0]]));
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
    var rows = Object.keys(state.stats.by_category || {}).map(function (slug) {
      return [slug, state.stats.by_category[slug].needs_posted];
    }).filter(function (r) { return r[1] > 0; });
    rows.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });
    rows = rows.slice(0, 12);
    svg.setAttribute("viewBox", "0 0 480 " + Math.max(60, rows.length * 24 + 10));
    if (!rows.length) {
      svg.appendChild(svgEl("text", { x: 10, y: 30, "class": "muted" }, t("no_data")));
      return;
    }
    var max = Math.max.apply(null, rows.map(function (r) { return r[1]; }));
    rows.forEach(function (r, i) {
      var y = 6 + i * 24;
      svg.appendChild(svgEl("text", { x: 0, y: y + 13, "data-category": r[0] }, categoryName(r[0])));
      svg.appendChild(svgEl("rect", {
        x: 130, y: y, width: Math.max(2, (r[1] / max) * 290), height: 16, rx: 2, fill: "#b7791f"
      }));
      svg.appendChild(svgEl("text", { x: 430, y: y + 13 }, fmt(r[1], "int")));
    });
  }

  function renderRanking() {
    var table = $("ranking");
    clear(table);
    var head = el("thead");
    var row = el("tr");
    row.appendChild(el("th", {}, t("rank")));
    row.appendChild(el("th", {}, t("unit")));
    row.appendChild(el("th", {}, t("index")));
    row.appendChild(el("th", {}, t("completion_rate")));
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
      var tr = el("tr", { "data-scope": item.scope });
      tr.appendChild(el("td", { "class": "num" }, String(item.rank)));
      var parts = item.scope.split(".");
      var where = parts.length > 1 ? nameOf(parts.slice(0, -1).join(".")) + " · " : "";
      tr.appendChild(el("td", {}, where + unitName(item)));
      var cell = el("td", { "class": "num" });
      cell.appendChild(el("span", {
        "class": "bar", style: "width:" + Math.round(item.pioneer_index || 0) + "px"
      }));
      cell.appendChild(document.createTextNode(fmt(item.pioneer_index, "index")));
      tr.appendChild(cell);
      tr.appendChild(el("td", { "class": "num" }, fmt(item.completion_rate, "pct")));
      tr.addEventListener("click", function () { goTo(item.scope); });
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

  function loadCategories() {
    return api("/v1/categories", {}).then(function (body) {
      body.items.forEach(function (c) { state.categoryNames[c.slug] = c; });
    }).catch(function () { /* names fall back to slugs */ });
  }

  function start() {
    state.lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
    renderTexts();
    $("lang").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      localStorage.setItem(LANG_KEY, state.lang);
      render();
    });
    state.token = readToken();
    var params = new URLSearchParams(location.search);
    if (params.get("from") || params.get("to")) {
      $("window").querySelector('option[value="custom"]').hidden = false;
      $("window").value = "custom";
    }
    if (!state.token) {
      notice("missing_token");
      return;
    }
    state.root = tokenScope(state.token) || params.get("scope");
    if (!state.root) {
      notice("bad_token");
      return;
    }
    var wanted = hashScope() || params.get("scope");
    state.scope = wanted && covers(state.root, wanted) ? wanted : state.root;
    window.addEventListener("hashchange", function () {
      var next = hashScope();
      if (next && covers(state.root, next) && next !== state.scope) {
        state.scope = next;
        refresh();
      }
    });
    $("window").addEventListener("change", refresh);
    loadCategories().then(refresh);
    setInterval(refresh, REFRESH_S * 1000);
  }

  start();
})();
