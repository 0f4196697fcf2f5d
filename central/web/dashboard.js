// Millrace central dashboard: one page over the reporting API (/api/v1/reports/...).
// Every filter lives in the URL, so a link shows the same view to someone else; the page
// refreshes its data every 15 s (the browser revalidates with the answers' ETags, so an
// unchanged report costs a 304) and redraws only what changed.
"use strict";

const PAGES = [
  ["fleet", "Fleet"], ["oee", "OEE"], ["downtime", "Downtime"], ["scrap", "Scrap"],
  ["yield", "Yield"], ["orders", "Orders"], ["quality", "Quality"], ["genealogy", "Genealogy"],
  ["reliability", "MTBF/MTTR"], ["sync", "Sync health"], ["users", "Users"], ["jobs", "Jobs"],
  ["alerts", "Alerts"],
];
const REFRESH_MS = 15000;
let me = null;            // who is logged in (GET /api/v1/session)
let lastRendered = "";    // the data behind what is on screen, to redraw only on change
let refreshTimer = null;
const charts = [];

// ---------------------------------------------------------------- URL state

function params() { return new URLSearchParams(location.search); }
function page() { return params().get("page") || "fleet"; }
function setParams(changes, push) {
  const p = params();
  for (const [k, v] of Object.entries(changes)) { if (v === "" || v == null) p.delete(k); else p.set(k, v); }
  const url = "/?" + p.toString();
  if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
}
function today(offsetDays) {
  const d = new Date(Date.now() + (offsetDays || 0) * 86400000);
  return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
}

// ---------------------------------------------------------------- API

class ApiError extends Error { constructor(status, message) { super(message); this.status = status; } }

async function api(path, options) {
  const o = Object.assign({ credentials: "same-origin", cache: "no-cache", headers: {} }, options || {});
  if (o.method && o.method !== "GET" && me && me.csrf_token) o.headers["X-CSRF-Token"] = me.csrf_token;
  if (o.body && typeof o.body !== "string") { o.body = JSON.stringify(o.body); o.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, o);
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!r.ok) {
    const message = body && body.error ? body.error.message : r.status + " " + r.statusText;
    if (r.status === 401) { me = null; showLogin(message); }
    throw new ApiError(r.status, message);
  }
  return body;
}

// A report's URL: the page's filters, the tenant a platform operator chose, and extras.
function reportUrl(name, extra, format) {
  const p = new URLSearchParams();
  const u = params();
  const wants = REPORT_FILTERS[name] || [];
  for (const k of wants) if (u.get(k)) p.set(k, u.get(k));
  for (const [k, v] of Object.entries(extra || {})) if (v !== "" && v != null) p.set(k, v);
  if (me && !me.tenant && u.get("tenant")) p.set("tenant", u.get("tenant"));
  if (format) p.set("format", format);
  const q = p.toString();
  return "/api/v1/reports/" + name + (q ? "?" + q : "");
}
// The trend's points: as chosen, else by day, or by month over more than a quarter (a year
// by day is 365 points no chart shows apart, and months come from the month rollups).
function trendGranularity() {
  const u = params(), chosen = u.get("granularity");
  if (chosen && chosen !== "none") return chosen;
  const from = Date.parse(u.get("from") || ""), to = Date.parse(u.get("to") || "");
  return to - from > 92 * 86400000 ? "month" : "day";
}
const RANGE = ["from", "to", "sites", "lines", "units", "products"];
const REPORT_FILTERS = {
  "oee": RANGE.concat(["group", "granularity"]), "throughput": RANGE.concat(["group", "granularity"]),
  "downtime": RANGE, "downtime-events": RANGE, "scrap": RANGE, "scrap-events": RANGE,
  "yield": RANGE, "orders": RANGE, "lead-time": RANGE, "reliability": RANGE, "quality": RANGE,
  "spc": RANGE, "nonconformances": ["sites"], "wip": ["sites", "lines", "units"],
  "genealogy": [], "sync-health": ["sites"],
};

// ---------------------------------------------------------------- formatting

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null) e.append(c instanceof Node ? c : String(c));
  return e;
}
function pct(v) { return v == null ? "–" : (v * 100).toFixed(1) + " %"; }
function num(v, digits) {
  if (v == null) return "–";
  return Number(v).toLocaleString(undefined, { maximumFractionDigits: digits == null ? 1 : digits });
}
function duration(seconds) {
  if (seconds == null) return "–";
  const s = Math.abs(seconds);
  if (s < 60) return num(seconds, 1) + " s";
  if (s < 3600) return num(seconds / 60, 1) + " min";
  return num(seconds / 3600, 2) + " h";
}
function when(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }
function cell(column, value) {
  const n = column.name;
  if (column.type === "ratio") return el("td", { class: "n" }, pct(value));
  if (column.type === "time") return el("td", {}, when(value));
  if (/_s$/.test(n) && column.type === "number") return el("td", { class: "n" }, duration(value));
  if (column.type === "number" || column.type === "integer") return el("td", { class: "n" }, num(value, 2));
  if (n === "online") return el("td", { class: value === "true" ? "ok" : "bad" }, value === "true" ? "online" : "offline");
  return el("td", {}, value == null ? "–" : value);
}
function label(name) { return name.replace(/_s$/, "").replace(/_/g, " "); }

// A report as a table, with its "data as of", a CSV link and "more" for the next page.
function table(report, name, extra, onRow, hide) {
  const cols = report.columns.filter((c) => !(hide || []).includes(c.name) && !/_id$/.test(c.name) && c.name !== "id");
  const body = el("tbody");
  const addRows = (rows) => {
    for (const row of rows) {
      const tr = el("tr", onRow ? { class: "drill", onclick: () => onRow(row) } : {}, cols.map((c) => cell(c, row[c.name])));
      body.append(tr);
    }
  };
  addRows(report.rows);
  const tools = el("div", { class: "tools" },
    el("span", { class: "asof" }, asOf(report)),
    el("a", { class: "button", href: reportUrl(name, extra, "csv"), download: "" }, "CSV"));
  let next = report.next;
  if (next) {
    const more = el("button", { onclick: async () => {
      const page2 = await api(reportUrl(name, Object.assign({}, extra, { after: next })));
      addRows(page2.rows);
      next = page2.next;
      if (!next) more.remove();
    } }, "More");
    tools.append(more);
  }
  return el("div", { class: "card" }, tools,
    report.rows.length ? el("table", {}, el("thead", {}, el("tr", {}, cols.map((c) =>
      el("th", { class: c.type === "text" || c.type === "time" || c.type === "date" ? "" : "n" }, label(c.name))))), body)
      : el("p", { class: "muted" }, "Nothing in this range."));
}
function asOf(report) {
  if (!report.data_as_of) return "no data has arrived from these sites yet";
  return "data as of " + when(report.data_as_of) + (report.from ? " · " + report.from + " to " + report.to : "");
}

// ---------------------------------------------------------------- charts (uPlot)

function clearCharts() { while (charts.length) charts.pop().destroy(); }
function chartWidth(node) { return Math.max(280, (node.clientWidth || 900) - 24); }

function lineChart(node, xs, series, opts) {
  const data = [xs].concat(series.map((s) => s.values));
  const u = new uPlot({
    width: chartWidth(node), height: 260,
    // One point alone would stretch the axis over years: half a day either side of it.
    scales: { x: { time: opts.time !== false, range: (u2, min, max) => min === max ? [min - 43200, max + 43200] : [min, max] } },
    axes: [{}, { values: (u2, ticks) => ticks.map((t) => opts.percent ? Math.round(t * 100) + "%" : t) }],
    series: [{ label: opts.xLabel || "" }].concat(series.map((s) => ({
      label: s.label, stroke: s.color, width: s.width || 2, dash: s.dash, points: { show: xs.length < 40 },
      value: (u2, v) => v == null ? "–" : opts.percent ? (v * 100).toFixed(1) + "%" : num(v, 3) }))),
  }, data, node);
  charts.push(u);
}

// Bars by category, largest first, with the cumulative share as a line on its own scale.
function paretoChart(node, labels, values, cumulative) {
  const xs = labels.map((_, i) => i);
  const u = new uPlot({
    width: chartWidth(node), height: 260,
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: {}, c: { range: [0, 1] } },
    axes: [{ values: (u2, ticks) => ticks.map((t) => labels[t] !== undefined && Number.isInteger(t) ? labels[t] : "") },
           { scale: "y" }, { scale: "c", side: 1, values: (u2, t) => t.map((v) => Math.round(v * 100) + "%") }],
    series: [{}, { label: "value", scale: "y", fill: "#1f6feb99", stroke: "#1f6feb",
                   paths: uPlot.paths.bars({ size: [0.7, 60] }) },
             { label: "cumulative", scale: "c", stroke: "#c62828", width: 2 }],
    legend: { show: false },
  }, [xs, values, cumulative], node);
  charts.push(u);
}

// ---------------------------------------------------------------- pages

const render = {
  async fleet() {
    const [health, oee] = await Promise.all([
      api(reportUrl("sync-health")),
      api(reportUrl("oee", { group: "site", granularity: "none", from: today(), to: today() })),
    ]);
    const oeeBySite = Object.fromEntries(oee.rows.map((r) => [r.site, r]));
    // The edge's schema and build, or why central refuses it (an edge too old or too new).
    const edge = (r) => r.edge_refusal ? "refused: " + r.edge_refusal
      : r.edge_schema == null ? "" : r.edge_schema === 0 ? "not reported (an older release)" : "schema " + r.edge_schema + (r.edge_build ? " (" + r.edge_build + ")" : "");
    const rows = health.rows.map((r) => Object.assign({}, r, { oee_today: (oeeBySite[r.site] || {}).oee, edge: edge(r) }));
    const report = Object.assign({}, health, {
      columns: [{ name: "site", type: "text" }, { name: "online", type: "text" }, { name: "lag_s", type: "number" },
                { name: "backlog_rows", type: "integer" }, { name: "rejects", type: "integer" },
                { name: "conflicts", type: "integer" }, { name: "last_applied_at", type: "time" },
                { name: "oee_today", type: "ratio" }, { name: "edge", type: "text" }],
      rows,
    });
    return [el("h1", {}, "Fleet"),
            kpis([["sites", health.rows.length], ["online", health.rows.filter((r) => r.online === "true").length],
                  ["backlog rows", health.rows.reduce((a, r) => a + (r.backlog_rows || 0), 0)],
                  ["rejects", health.rows.reduce((a, r) => a + (r.rejects || 0), 0)]]),
            table(report, "sync-health", {}, (row) => go({ page: "oee", sites: row.site, group: "unit" }))];
  },

  async oee() {
    const u = params();
    const group = u.get("group") || "site";
    const [trend, ranking, losses] = await Promise.all([
      api(reportUrl("oee", { group: "none", granularity: trendGranularity() })),
      api(reportUrl("oee", { group, granularity: "none", sort: "oee" })),
      api(reportUrl("downtime", { by: "loss_class" })),
    ]);
    const chart = el("div", { class: "card chart" });
    const out = [el("h1", {}, "OEE"), kpiOfTotal(trend), chart,
                 el("h2", {}, "Ranking by " + group + " (best first)"),
                 table(ranking, "oee", { group, granularity: "none", sort: "oee" }, (row) =>
                   row.unit_code ? go({ page: "downtime", units: row.unit_code }) : row.line_code ? go({ page: "oee", group: "unit", lines: row.line_code }) : row.site ? go({ page: "oee", group: "line", sites: row.site }) : null),
                 el("h2", {}, "The six big losses: stop time by loss class"),
                 table(losses, "downtime", { by: "loss_class" }, (row) => go({ page: "downtime", loss_class: row.loss_class }))];
    later(() => {
      if (!trend.rows.length) return;
      const xs = trend.rows.map((r) => periodTime(r.period));
      lineChart(chart, xs, [
        { label: "OEE", values: trend.rows.map((r) => r.oee), color: "#102a43", width: 3 },
        { label: "Availability", values: trend.rows.map((r) => r.availability), color: "#1f6feb" },
        { label: "Performance", values: trend.rows.map((r) => r.performance), color: "#b35900" },
        { label: "Quality", values: trend.rows.map((r) => r.quality), color: "#1a7f37" }], { percent: true });
    });
    return out;
  },

  async downtime() {
    const u = params();
    const by = u.get("by") || "reason";
    const report = await api(reportUrl("downtime", { by, planned: u.get("planned") }));
    const chart = el("div", { class: "card chart" });
    const events = await api(reportUrl("downtime-events", { reason: u.get("reason"), loss_class: u.get("loss_class"), limit: 50 }));
    later(() => paretoChart(chart, report.rows.map((r) => r.reason_code || r.loss_class || r.oee_bucket),
                            report.rows.map((r) => r.stop_time_s / 3600), report.rows.map((r) => r.cumulative_share)));
    return [el("h1", {}, "Downtime Pareto"),
            selector("by", by, ["reason", "loss_class", "bucket"]), chart,
            table(report, "downtime", { by }, (row) => row.reason_id ? go({ page: "downtime", reason: row.reason_code || row.reason_id }) : go({ page: "downtime", loss_class: row.loss_class })),
            el("h2", {}, "Stops" + (u.get("reason") ? " for " + u.get("reason") : u.get("loss_class") ? " of " + u.get("loss_class") : "")),
            table(events, "downtime-events", { reason: u.get("reason"), loss_class: u.get("loss_class"), limit: 50 })];
  },

  async scrap() {
    const by = params().get("by") || "reason";
    const report = await api(reportUrl("scrap", { by }));
    const chart = el("div", { class: "card chart" });
    later(() => paretoChart(chart, report.rows.map((r) => r.reason_code || r.product_code || r.line_code || r.site || "–"),
                            report.rows.map((r) => r.scrap + r.rework), report.rows.map((r) => r.cumulative_share)));
    const events = await api(reportUrl("scrap-events", { reason: params().get("reason"), limit: 50 }));
    return [el("h1", {}, "Scrap and rework Pareto"), selector("by", by, ["reason", "product", "line", "site"]), chart,
            table(report, "scrap", { by }, (row) => row.reason_code ? go({ page: "scrap", reason: row.reason_code }) : null),
            el("h2", {}, "Counts with scrap or rework"), table(events, "scrap-events", { reason: params().get("reason"), limit: 50 })];
  },

  async yield() {
    const report = await api(reportUrl("yield"));
    return [el("h1", {}, "First-pass and rolled throughput yield"), table(report, "yield")];
  },

  async orders() {
    const [bySite, list, lead, wip] = await Promise.all([
      api(reportUrl("orders", { by: "site" })), api(reportUrl("orders", { by: "order", limit: 100 })),
      api(reportUrl("lead-time", { by: "site" })), api(reportUrl("wip", { group: "line" }))]);
    return [el("h1", {}, "Work orders: plan against actual"), table(bySite, "orders", { by: "site" }),
            el("h2", {}, "Orders due in the range"), table(list, "orders", { by: "order", limit: 100 }),
            el("h2", {}, "Lead time of completed orders"), table(lead, "lead-time", { by: "site" }),
            el("h2", {}, "Work in progress now"), table(wip, "wip", { group: "line" })];
  },

  async quality() {
    const u = params();
    const [caps, ncs] = await Promise.all([api(reportUrl("quality")), api(reportUrl("nonconformances", { by: "aging" }))]);
    const out = [el("h1", {}, "Quality"), table(caps, "quality", {}, (row) => go({ page: "quality", characteristic: row.characteristic }))];
    if (u.get("characteristic")) {
      const spc = await api(reportUrl("spc", { characteristic: u.get("characteristic") }));
      const chart = el("div", { class: "card chart" });
      out.push(el("h2", {}, "SPC: " + u.get("characteristic") + " (X-bar per hour)"), chart, table(spc, "spc", { characteristic: u.get("characteristic") }));
      later(() => {
        if (!spc.rows.length) return;
        const xs = spc.rows.map((r) => Date.parse(r.hour) / 1000);
        const line = (k) => spc.rows.map((r) => r[k]);
        lineChart(chart, xs, [
          { label: "mean", values: line("mean"), color: "#102a43", width: 2 },
          { label: "UCL", values: line("ucl"), color: "#c62828", dash: [6, 4], width: 1 },
          { label: "center", values: line("center"), color: "#687385", dash: [2, 3], width: 1 },
          { label: "LCL", values: line("lcl"), color: "#c62828", dash: [6, 4], width: 1 },
          { label: "USL", values: line("usl"), color: "#b35900", width: 1 },
          { label: "LSL", values: line("lsl"), color: "#b35900", width: 1 }], {});
      });
    }
    out.push(el("h2", {}, "Open non-conformances by age"), table(ncs, "nonconformances", { by: "aging" }));
    return out;
  },

  async genealogy() {
    const u = params();
    const form = el("form", { class: "inline card", onsubmit: (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      go({ page: "genealogy", lot: f.get("lot"), by: f.get("by") });
    } },
      el("label", {}, "Lot number or id ", el("input", { name: "lot", value: u.get("lot") || "", required: true })),
      el("label", {}, "Direction ", el("select", { name: "by" },
        ["backward", "forward"].map((d) => el("option", { value: d, selected: (u.get("by") || "backward") === d }, d)))),
      el("button", { class: "primary" }, "Trace"));
    const out = [el("h1", {}, "Lot genealogy across sites"), form];
    if (u.get("lot")) out.push(table(await api(reportUrl("genealogy", { lot: u.get("lot"), by: u.get("by") || "backward" })),
                                     "genealogy", { lot: u.get("lot"), by: u.get("by") || "backward" }));
    return out;
  },

  async reliability() {
    const sort = params().get("sort") || "mtbf";
    return [el("h1", {}, "MTBF and MTTR by work unit (worst first)"), selector("sort", sort, ["mtbf", "mttr", "failures"]),
            table(await api(reportUrl("reliability", { sort })), "reliability", { sort })];
  },

  async sync() {
    return [el("h1", {}, "Sync health"), table(await api(reportUrl("sync-health")), "sync-health")];
  },

  // The job queue: a tenant admin's own jobs, or a platform operator's view of every
  // tenant's (and the platform's), with cancel and retry.
  async jobs() {
    if (me.role !== "tenant_admin" && me.role !== "platform_operator")
      return [el("h1", {}, "Jobs"), el("p", { class: "muted" }, "Only a tenant admin or a platform operator sees the job queue.")];
    const u = params();
    const state = u.get("state") && u.get("state") !== "all" ? u.get("state") : "";
    const q = new URLSearchParams({ limit: "200" });
    if (!me.tenant && u.get("tenant")) q.set("tenant", u.get("tenant"));
    if (state) q.set("state", state);
    const jobs = await api("/api/v1/jobs?" + q.toString());
    const total = (s) => jobs.counts.filter((c) => c.state === s).reduce((a, c) => a + c.jobs, 0);
    const msg = el("div");
    const button = (j, action, text) => el("button", { onclick: () => act(() => api("/api/v1/jobs/" + j.id + "/" + action, { method: "POST", body: {} }), msg) }, text);
    const rows = jobs.items.map((j) => el("tr", {},
      el("td", {}, j.id), el("td", {}, j.kind), el("td", {}, j.tenant === "*" ? "platform" : j.tenant),
      el("td", { class: "job-" + j.state }, j.state + (j.cancel_requested ? " (stopping)" : "")),
      el("td", {}, j.attempts + "/" + j.max_attempts), el("td", {}, progressText(j)),
      el("td", {}, new Date(j.created_ms).toLocaleString()), el("td", {}, j.last_error || ""),
      el("td", {}, j.state === "queued" || j.state === "running" ? button(j, "cancel", "Cancel")
        : j.state === "dead" || j.state === "cancelled" ? button(j, "retry", "Retry")
        : j.kind === "report_export" ? el("a", { class: "button", href: "/api/v1/jobs/" + j.id + "/file", download: "" }, "Download") : "")));
    return [el("h1", {}, "Jobs"),
            kpis([["queued", total("queued")], ["running", total("running")], ["dead letter", total("dead")]]),
            selector("state", state || "all", ["all", "queued", "running", "succeeded", "dead", "cancelled"]), msg,
            el("table", { class: "jobs" }, el("thead", {}, el("tr", {}, ["id", "kind", "tenant", "state", "attempts", "progress",
              "created", "last error", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows))];
  },

  // Central's alerts: what fires or is pending (or resolved, when asked), each open one
  // with its acknowledgement, or a comment box to give one.
  async alerts() {
    if (me.role === "viewer")
      return [el("h1", {}, "Alerts"), el("p", { class: "muted" }, "Only a site manager, a tenant admin or a platform operator sees the alerts.")];
    const u = params();
    const state = u.get("state") || "open";
    const q = new URLSearchParams({ limit: "200" });
    if (!me.tenant && u.get("tenant")) q.set("tenant", u.get("tenant"));
    if (state !== "all") q.set("state", state);
    const alerts = await api("/api/v1/alerts?" + q.toString());
    const msg = el("div");
    const count = (s) => alerts.items.filter((a) => a.state === s).length;
    const when = (t) => t ? new Date(t).toLocaleString() : "";
    const ack = (a) => {
      if (a.state === "resolved") return "";
      if (a.acknowledged_at) return "by " + a.acknowledged_by + ": " + a.ack_comment;
      const input = el("input", { type: "text", placeholder: "what is being done", maxlength: "2000" });
      const body = () => Object.assign({ comment: input.value }, me.tenant ? {} : { tenant: u.get("tenant") });
      return el("span", {}, input, el("button", { onclick: () => act(() => api("/api/v1/alerts/" + a.id + "/ack", { method: "POST", body: body() }), msg) }, "Acknowledge"));
    };
    const value = (a) => a.value == null ? "" : (Math.round(a.value * 100) / 100) + " " + a.unit + " (threshold " + a.threshold + ")";
    const rows = alerts.items.map((a) => el("tr", {},
      el("td", {}, a.id), el("td", { class: "alert-" + a.severity }, a.severity), el("td", { class: "alert-" + a.state }, a.state),
      el("td", {}, a.kind), el("td", {}, a.subject + (a.detail ? " · " + a.detail : "")), el("td", {}, value(a)),
      el("td", {}, when(a.state === "resolved" ? a.resolved_at : a.fired_at || a.pending_since)), el("td", {}, ack(a))));
    return [el("h1", {}, "Alerts"),
            kpis([["firing", count("firing")], ["pending", count("pending")], ["unacknowledged", alerts.items.filter((a) => a.state === "firing" && !a.acknowledged_at).length]]),
            selector("state", state, ["open", "firing", "pending", "resolved", "all"]), msg,
            el("table", { class: "alerts" }, el("thead", {}, el("tr", {}, ["id", "severity", "state", "kind", "subject", "value",
              "since", "acknowledged"].map((h) => el("th", {}, h)))), el("tbody", {}, rows))];
  },

  async users() {
    if (me.role !== "tenant_admin" && me.role !== "platform_operator")
      return [el("h1", {}, "Users"), el("p", { class: "muted" }, "Only a tenant admin manages users.")];
    const tenantQ = me.tenant ? "" : "?tenant=" + encodeURIComponent(params().get("tenant") || "");
    const [users, tokens] = await Promise.all([api("/api/v1/users" + tenantQ), api("/api/v1/api-tokens" + tenantQ)]);
    const msg = el("div");
    const userRows = users.items.map((u) => el("tr", {}, el("td", {}, u.login), el("td", {}, u.name), el("td", {}, u.role),
      el("td", {}, (u.sites || []).join(", ")), el("td", {}, u.active ? "active" : "inactive"),
      el("td", {}, el("button", { onclick: () => act(() => api("/api/v1/users/" + encodeURIComponent(u.login) + tenantQ,
        { method: "PATCH", body: { active: !u.active } }), msg) }, u.active ? "Deactivate" : "Activate"))));
    const create = el("form", { class: "inline", onsubmit: (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      const body = { login: f.get("login"), name: f.get("name"), role: f.get("role"), password: f.get("password") };
      if (f.get("sites")) body.sites = f.get("sites").split(",").map((s) => s.trim()).filter(Boolean);
      if (!me.tenant) body.tenant = params().get("tenant");
      act(() => api("/api/v1/users", { method: "POST", body }), msg);
    } },
      el("input", { name: "login", placeholder: "login", required: true }), el("input", { name: "name", placeholder: "name", required: true }),
      el("select", { name: "role" }, ["viewer", "site_manager", "tenant_admin"].map((r) => el("option", { value: r }, r))),
      el("input", { name: "sites", placeholder: "sites (site managers)" }),
      el("input", { name: "password", type: "password", placeholder: "password (10+)", required: true, minlength: 10 }),
      el("button", { class: "primary" }, "Add user"));
    const tokenRows = tokens.items.map((t) => el("tr", {}, el("td", {}, t.name), el("td", {}, t.role), el("td", {}, (t.sites || []).join(", ")),
      el("td", {}, t.created_by), el("td", {}, t.revoked_at ? "revoked" : "live"),
      el("td", {}, t.revoked_at ? "" : el("button", { onclick: () => act(() => api("/api/v1/api-tokens/" + encodeURIComponent(t.name) + tenantQ, { method: "DELETE" }), msg) }, "Revoke"))));
    const newToken = el("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      const body = { name: f.get("name"), role: f.get("role") };
      if (f.get("sites")) body.sites = f.get("sites").split(",").map((s) => s.trim()).filter(Boolean);
      if (!me.tenant) body.tenant = params().get("tenant");
      try {
        const made = await api("/api/v1/api-tokens", { method: "POST", body });
        msg.replaceChildren(el("p", { class: "card" }, "Token " + made.name + " (shown only now): ", el("code", {}, made.token)));
      } catch (err) { msg.replaceChildren(el("p", { class: "error" }, err.message)); }
    } },
      el("input", { name: "name", placeholder: "token name", required: true }),
      el("select", { name: "role" }, ["viewer", "site_manager", "tenant_admin"].map((r) => el("option", { value: r }, r))),
      el("input", { name: "sites", placeholder: "sites (site managers)" }), el("button", {}, "Make API token"));
    return [el("h1", {}, "Users and API tokens"), msg,
            el("div", { class: "card" }, el("table", {}, el("thead", {}, el("tr", {}, ["login", "name", "role", "sites", "", ""].map((h) => el("th", {}, h)))), el("tbody", {}, userRows)), create),
            el("div", { class: "card" }, el("table", {}, el("thead", {}, el("tr", {}, ["token", "role", "sites", "made by", "", ""].map((h) => el("th", {}, h)))), el("tbody", {}, tokenRows)), newToken)];
  },
};

// A job's progress as "12/40 days · 3.1/s · ETA 9 s".
function progressText(j) {
  const p = j.progress;
  if (!p) return "";
  const parts = [(p.done ?? 0) + (p.total != null ? "/" + p.total : "") + " " + (p.unit || "")];
  if (p.rate_per_s != null) parts.push(p.rate_per_s.toFixed(1) + "/s");
  if (p.eta_s != null) parts.push("ETA " + Math.round(p.eta_s) + " s");
  return parts.join(" · ");
}

async function act(fn, msg) {
  try { await fn(); lastRendered = ""; await show(); }
  catch (err) { msg.replaceChildren(el("p", { class: "error" }, err.message)); }
}
function kpis(items) {
  return el("div", { class: "kpis" }, items.map(([l, v]) => el("div", { class: "kpi" }, el("div", { class: "v" }, v), el("div", { class: "l" }, l))));
}
function kpiOfTotal(trend) {
  let ppt = 0, run = 0, ideal = 0, good = 0, total = 0, idealGood = 0;
  for (const r of trend.rows) {
    ppt += r.planned_production_time_s || 0; run += r.run_time_s || 0; ideal += r.ideal_time_s || 0;
    good += r.good || 0; total += (r.good || 0) + (r.scrap || 0) + (r.rework || 0);
    idealGood += (r.oee || 0) * (r.planned_production_time_s || 0);
  }
  return kpis([["OEE", pct(ppt ? idealGood / ppt : null)], ["Availability", pct(ppt ? run / ppt : null)],
               ["Performance", pct(run ? ideal / run : null)], ["Quality", pct(total ? good / total : null)],
               ["Good", num(good, 0)]]);
}
function periodTime(p) {
  if (/^\d{4}-\d{2}$/.test(p)) return Date.parse(p + "-01T12:00:00") / 1000;
  if (/^\d{4}-\d{2}-\d{2}$/.test(p)) return Date.parse(p + "T12:00:00") / 1000;
  return Date.parse(p) / 1000;
}
function selector(key, value, options) {
  return el("div", { class: "tools" }, options.map((o) =>
    el("button", { class: o === value ? "primary" : "", onclick: () => go({ [key]: o }) }, label(o))));
}
let pending = [];
function later(fn) { pending.push(fn); }
function go(changes) { setParams(changes, true); lastRendered = ""; show(); }

// ---------------------------------------------------------------- shell

const FILTERED = { fleet: ["sites"], oee: RANGE.concat(["group", "granularity"]), downtime: RANGE, scrap: RANGE,
  yield: RANGE, orders: RANGE, quality: RANGE, reliability: RANGE, sync: ["sites"], genealogy: [], users: [], jobs: [], alerts: [] };

function drawFilters() {
  const box = document.getElementById("filters");
  const keys = FILTERED[page()] || [];
  const u = params();
  box.replaceChildren();
  box.hidden = false;
  if (me && !me.tenant) box.append(el("label", {}, "tenant", el("input", { type: "text", name: "tenant", value: u.get("tenant") || "" })));
  for (const k of keys) {
    if (k === "from" || k === "to") {
      box.append(el("label", {}, k, el("input", { type: "date", name: k, value: u.get(k) || (k === "to" ? today() : today(-6)) })));
    } else if (k === "granularity") {
      box.append(el("label", {}, k, el("select", { name: k }, ["hour", "shift", "day", "week", "month"].map((g) =>
        el("option", { value: g, selected: (u.get(k) || "day") === g }, g)))));
    } else if (k === "group") {
      box.append(el("label", {}, "by", el("select", { name: k }, ["site", "line", "unit"].map((g) =>
        el("option", { value: g, selected: (u.get(k) || "site") === g }, g)))));
    } else {
      box.append(el("label", {}, k, el("input", { type: "text", name: k, value: u.get(k) || "", placeholder: "all" })));
    }
  }
  box.addEventListener("change", (e) => { if (e.target.name) go({ [e.target.name]: e.target.value }); }, { once: true });
  if (!box.children.length) box.hidden = true;
}

function drawNav() {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...PAGES.map(([id, name]) => el("a", { href: "/?page=" + id + keep(), class: id === page() ? "on" : "",
    onclick: (e) => { e.preventDefault(); go({ page: id }); } }, name)));
  const who = document.getElementById("who");
  who.replaceChildren(me ? me.name.replace(/^user:/, "") + " · " + me.role.replace("_", " ") + (me.tenant ? " · " + me.tenant : "") : "",
    me ? el("button", { onclick: logout }, "Log out") : "");
}
function keep() {
  const p = params(), out = new URLSearchParams();
  for (const k of ["tenant", "from", "to", "sites"]) if (p.get(k)) out.set(k, p.get(k));
  const s = out.toString();
  return s ? "&" + s : "";
}

// Draws the page; `refresh` (the 15 s timer) keeps the filters as they are, so nobody's
// typing is lost, and leaves the page alone when its data has not changed.
async function show(refresh) {
  if (!me) return;
  if (!refresh) {
    drawNav();
    drawFilters();
  }
  const main = document.getElementById("main");
  if (!me.tenant && !params().get("tenant") && page() !== "jobs") {
    clearCharts();
    main.replaceChildren(el("h1", {}, "Choose a tenant"), el("p", { class: "muted" }, "A platform operator names the tenant in the filter above."));
    return;
  }
  try {
    pending = [];
    const nodes = await render[page()]();
    const fingerprint = page() + location.search + JSON.stringify(nodes.map((n) => n.textContent));
    if (fingerprint === lastRendered) return;  // the same data: leave the page as it is
    lastRendered = fingerprint;
    clearCharts();
    main.replaceChildren(...nodes);
    for (const fn of pending) fn();
    document.getElementById("status").textContent = "updated " + new Date().toLocaleTimeString() + " · refreshes every 15 s";
  } catch (err) {
    if (err.status === 401) return;
    clearCharts();
    lastRendered = "";
    main.replaceChildren(el("h1", {}, PAGES.find((p) => p[0] === page())[1]), el("p", { class: "error" }, err.message));
  }
}

function showLogin(message) {
  clearCharts();
  document.getElementById("filters").hidden = true;
  document.getElementById("nav").replaceChildren();
  document.getElementById("who").replaceChildren();
  const err = el("p", { class: "error", hidden: !message || /log in/.test(message) }, message || "");
  document.getElementById("main").replaceChildren(el("form", { class: "login", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      await api("/api/v1/session", { method: "POST", body: { login: f.get("login"), password: f.get("password") } });
      await start();
    } catch (ex) { err.hidden = false; err.textContent = ex.message; }
  } }, el("h1", {}, "Millrace"), el("p", { class: "muted" }, "Cross-site reporting"), err,
    el("input", { name: "login", placeholder: "login", autocomplete: "username", required: true }),
    el("input", { name: "password", type: "password", placeholder: "password", autocomplete: "current-password", required: true }),
    el("button", { class: "primary" }, "Log in")));
}

async function logout() {
  try { await api("/api/v1/session", { method: "DELETE" }); } catch (e) { /* ended already */ }
  me = null;
  showLogin("");
}

async function start() {
  try { me = await api("/api/v1/session"); } catch (e) { if (e.status !== 401) showLogin(e.message); return; }
  lastRendered = "";
  await show();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => { if (me && !document.hidden) show(true); }, REFRESH_MS);
}

window.addEventListener("popstate", () => { lastRendered = ""; show(); });
start();
