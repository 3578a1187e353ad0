/* agentlytics dashboard: one page, plain JS, no build step.
 *
 * State lives in the URL query string (filters, the open session), so a view can be shared.
 * The page polls /api/version twice a second (a stat of the file: no lock, no query) and reloads its data only when the store changed;
 * every number comes from the server's JSON (the query layer's reports), none is computed here
 * except sums for chart stacking. */
"use strict";

const POLL_MS = 500;
const FILTERS = ["since", "until", "model", "project", "client"];
// Okabe–Ito, in an order where neighbours differ in lightness too.
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
const OUTCOMES = [
  ["approved", "approved"], ["denied", "denied"], ["aborted", "aborted"], ["timed_out", "timed out"],
];

const $ = (id) => document.getElementById(id);
// gen: the newest refresh; answers of an older one (filters changed meanwhile) are dropped.
const state = { version: null, summary: null, charts: {}, loading: 0, gen: 0 };

/* ---------- formatting ---------- */
const nf = new Intl.NumberFormat("en-US");
function num(v) { return v === null || v === undefined ? "—" : nf.format(v); }
function compact(v) {
  if (v === null || v === undefined) return "—";
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "B";
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + "k";
  return nf.format(v);
}
function usd(v) {
  if (v === null || v === undefined) return "—";
  if (v !== 0 && Math.abs(v) < 1) return "$" + v.toFixed(Math.abs(v) < 0.01 ? 4 : 3);
  return "$" + v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
function ms(v) {
  if (v === null || v === undefined) return "—";
  if (v >= 60000) return (v / 60000).toFixed(1) + " min";
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + " s";
  return Math.round(v) + " ms";
}
function when(v) {
  if (v === null || v === undefined) return "—";
  const d = new Date(typeof v === "number" ? (v < 1e12 ? v * 1000 : v) : v);
  if (isNaN(d)) return String(v);
  return d.toISOString().replace("T", " ").slice(0, 19);
}
function shortId(id) { return id ? String(id).slice(0, 8) + "…" + String(id).slice(-4) : "—"; }
function text(v) { return v === null || v === undefined || v === "" ? "—" : String(v); }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") e.setAttribute("style", v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
function none(msg) { return el("p", { class: "none" }, msg); }

/* A table from column specs {key, label, fmt, left, cell}; rows are objects. */
function table(columns, rows, opts = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", { class: c.left ? "l" : null, scope: "col" }, c.label)));
  const body = rows.map((r, i) => {
    const tds = columns.map((c) => {
      const content = c.cell ? c.cell(r) : (c.fmt || text)(r[c.key]);
      return el("td", { class: c.left ? "l" : null }, content);
    });
    const attrs = opts.rowAttrs ? opts.rowAttrs(r, i) : {};
    return el("tr", attrs, tds);
  });
  return el("div", { class: "table-wrap" }, el("table", { "data-table": opts.name || null },
    opts.caption ? el("caption", { class: "visually-hidden" }, opts.caption) : null,
    el("thead", {}, head), el("tbody", {}, body)));
}

/* ---------- URL state ---------- */
function params() { return new URLSearchParams(location.search); }
function filterQuery() {
  const p = params(), q = new URLSearchParams();
  for (const k of FILTERS) if (p.get(k)) q.set(k, p.get(k));
  return q;
}
function setUrl(mutate, push) {
  const p = params();
  mutate(p);
  const s = p.toString();
  const url = location.pathname + (s ? "?" + s : "");
  if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
}
function fillFilterForm() {
  const p = params();
  for (const k of FILTERS) $("f-" + k).value = p.get(k) || "";
}

/* ---------- fetching ---------- */
async function getJSON(path, q) {
  const qs = q && q.toString();
  const res = await fetch("api/" + path + (qs ? "?" + qs : ""), { headers: { Accept: "application/json" } });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) { const e = new Error(body.error || res.statusText); e.status = res.status; throw e; }
  return body;
}
function problem(msg) {
  const p = $("problem");
  p.hidden = !msg;
  p.textContent = msg || "";
}
function live(cls, msg) {
  const l = $("live");
  l.className = "live " + cls;
  $("live-text").textContent = msg;
}

async function refresh(force) {
  let v;
  try { v = await getJSON("version"); }
  catch (e) { live(e.status === 503 ? "busy" : "error", e.status === 503 ? "store busy, retrying…" : "server unreachable, retrying…"); return; }
  if (!force && v.version === state.version) { $("live").classList.remove("busy", "error"); $("live").classList.add("ok"); return; }
  state.loading++;
  const gen = ++state.gen;
  const current = (draw) => (body) => { if (gen === state.gen) draw(body); };
  try {
    const q = filterQuery();
    const open = params().get("session");
    // Three requests side by side (the server answers them in parallel); each section is
    // drawn as soon as its answer is in.
    await Promise.all([
      getJSON("summary", q).then(current((s) => { state.summary = s; render(s); })),
      getJSON("sessions", q).then(current((s) => renderSessions(s.sessions))),
      getJSON("lifecycle", q).then(current(renderLifecycle)),
      open ? getJSON("session/" + encodeURIComponent(open), q).catch((e) => ({ error: e.message })).then(current(renderSession)) : null,
    ]);
    if (gen !== state.gen) return;
    state.version = v.version;
    problem(null);
    const first = !document.body.dataset.ready;
    document.body.dataset.ready = "1";
    document.body.dataset.version = v.version;
    live("ok" + (first ? "" : " flash"), "live · updated " + new Date().toLocaleTimeString());
    setTimeout(() => $("live").classList.remove("flash"), 600);
  } catch (e) {
    if (gen !== state.gen) return;
    if (e.status === 503) live("busy", "store busy (a writer holds it), retrying…");
    else {
      // Not a passing state: ask again only once the store changes.
      state.version = v.version;
      live("error", "cannot read the store");
      problem(e.message);
    }
  } finally { state.loading--; }
}

/* ---------- rendering ---------- */
function render(s) {
  $("store").textContent = s.store;
  const h = s.headline;
  const filtered = FILTERS.some((k) => params().get(k));
  $("empty").hidden = h.events > 0;
  $("empty-filtered").hidden = !filtered;
  renderOptions(s.options);
  renderCards(h);
  renderUsage(s.daily, s.unpriced_models || []);
  renderTools(s.tools, s.slowest);
  renderApprovals(s.approvals, s.approval_latency || []);
}

function renderLifecycle(s) {
  renderSimple("goals", s.goals, "No goals match these filters (replay examples/goals.jsonl to see some).", GOAL_COLUMNS);
  if (s.goals.length >= s.goals_limit) $("goals").append(el("p", { class: "note" }, `The ${s.goals_limit} largest goals (by tokens).`));
  renderSimple("hooks", s.hooks, "No hook runs match these filters (replay examples/hooks.jsonl to see some).", HOOK_COLUMNS);
  renderSimple("compactions", s.compactions, "No compactions match these filters (replay examples/compaction.jsonl to see some).", COMPACTION_COLUMNS);
}

function renderOptions(o) {
  for (const [id, values] of [["models", o.models]]) {
    const dl = $(id);
    dl.replaceChildren(...(values || []).map((v) => el("option", { value: v })));
  }
}

function renderCards(h) {
  const share = h.agent_share !== null ? "of the repository's added lines"
    : h.agent_share_note ? h.agent_share_note
    : num(h.accepted_agent_lines) + " accepted agent lines; start with --repo PATH for the share";
  const cards = [
    ["sessions", "Sessions", h.sessions, num(h.sessions), "threads", "--blue"],
    ["turns", "Turns", h.turns, num(h.turns), num(h.tool_calls) + " tool calls", "--sky"],
    ["tokens", "Tokens", h.total_tokens, compact(h.total_tokens), num(h.total_tokens) + " total", "--orange"],
    ["cost", "Estimated cost", h.cost_usd, usd(h.cost_usd), h.unpriced_models.length ? "unpriced: " + h.unpriced_models.join(", ") : "bundled price table", "--purple"],
    ["approval-rate", "Approval rate", h.approval_rate, pct(h.approval_rate), h.reviews ? `${num(h.approved)} of ${num(h.reviews)} reviews` : "no reviews", "--green"],
    ["agent-share", "Agent share of code", h.agent_share, pct(h.agent_share), share, "--vermillion"],
  ];
  $("cards").replaceChildren(...cards.map(([key, label, raw, value, sub, color]) =>
    el("div", { class: "card", style: `--accent: var(${color})`, "data-card": key, "data-value": JSON.stringify(raw) },
      el("div", { class: "label" }, label), el("div", { class: "value" }, value), el("div", { class: "sub" }, sub))));
}

/* Tokens and cost per day, stacked by model (uPlot bars). */
function renderUsage(daily, unpriced) {
  const days = [...new Set(daily.map((r) => r.day))].sort();
  const models = [...new Set(daily.map((r) => r.model || "unknown"))].sort();
  const note = $("unpriced");
  note.hidden = !unpriced.length;
  note.textContent = unpriced.length ? "No price known for: " + unpriced.join(", ") + " (their cost is not counted, never taken as 0)." : "";
  for (const [key, field, fmt] of [["tokens", "total_tokens", compact], ["cost", "cost_usd", usd]]) {
    const host = $("chart-" + key);
    if (state.charts[key]) { state.charts[key].destroy(); delete state.charts[key]; }
    host.replaceChildren();
    if (!days.length) { host.append(none("No turns match these filters.")); continue; }
    const xs = days.map((d) => Date.parse(d + "T00:00:00Z") / 1000);
    const raw = models.map((m) => days.map((d) => {
      let t = null;
      for (const r of daily) if (r.day === d && (r.model || "unknown") === m && r[field] !== null) t = (t || 0) + r[field];
      return t;
    }));
    // Stack: series i holds the sum of models 0..i; drawn last-to-first so smaller sit on top.
    const cum = raw.map((_, i) => days.map((_, j) => raw.slice(0, i + 1).reduce((a, s) => a + (s[j] || 0), 0)));
    const order = models.map((_, i) => models.length - 1 - i);
    const bars = uPlot.paths.bars({ size: [0.6, 64], align: 0 });
    const series = [{ label: "day", value: (u, v) => v === null ? "—" : new Date(v * 1000).toISOString().slice(0, 10) }];
    for (const i of order) {
      const c = PALETTE[i % PALETTE.length];
      series.push({
        label: models[i], stroke: c, fill: c, width: 1, paths: bars, points: { show: false },
        value: (u, v, si, idx) => idx === null ? "—" : fmt(raw[i][idx]),
      });
    }
    const width = Math.max(280, host.clientWidth || host.parentElement.clientWidth || 600);
    // Half a day either side; a lone day gets a few days of room so its bar stays a bar.
    const pad = xs.length > 1 ? 43200 : 3 * 86400;
    const lo = xs[0] - pad, hi = xs[xs.length - 1] + pad;
    const opts = {
      width, height: 220, series, legend: { show: true, live: false },
      scales: { x: { time: true, range: () => [lo, hi] }, y: { range: (u, a, b) => [0, b > 0 ? b * 1.1 : 1] } },
      axes: [{ stroke: "currentColor", grid: { show: false } }, { stroke: "currentColor", values: (u, vs) => vs.map((v) => fmt(v)), size: 60 }],
      cursor: { points: { show: false } },
    };
    state.charts[key] = new uPlot(opts, [xs, ...order.map((i) => cum[i])], host);
  }
}

function latencyBar(p50, p95, max) {
  if (p95 === null || p95 === undefined || !max) return "—";
  const w50 = Math.max(1, (100 * (p50 || 0)) / max), w95 = Math.max(1, (100 * p95) / max);
  return el("div", { class: "bar", role: "img", "aria-label": `p50 ${ms(p50)}, p95 ${ms(p95)}` },
    el("span", { class: "p95", style: `left:0;width:${w95}%` }), el("span", { class: "p50", style: `width:${w50}%` }));
}

function renderTools(tools, slowest) {
  const host = $("tools");
  if (!tools.length) { host.replaceChildren(none("No tool calls match these filters.")); $("slowest").replaceChildren(); return; }
  const max = Math.max(...tools.map((r) => r.p95_ms || 0));
  host.replaceChildren(
    table([
      { label: "tool", left: true, cell: toolCell },
      { key: "calls", label: "calls", fmt: num },
      { key: "failed", label: "failed", fmt: num },
      { key: "p50_ms", label: "p50", fmt: ms },
      { key: "p95_ms", label: "p95", fmt: ms },
      { key: "p99_ms", label: "p99", fmt: ms },
      { label: "p50 ▮ / p95 ▨", cell: (r) => latencyBar(r.p50_ms, r.p95_ms, max), left: true },
    ], tools, { name: "tools", caption: "Tool calls by kind and tool" }));
  $("slowest").replaceChildren(slowest.length ? table([
    { label: "tool", left: true, cell: toolCell },
    { key: "duration_ms", label: "duration", fmt: ms },
    { key: "terminal_status", label: "status", left: true },
    { key: "thread_id", label: "session", left: true, cell: (r) => sessionLink(r.thread_id) },
  ], slowest, { name: "slowest" }) : none("No timed tool calls."));
}

function toolCell(r) {
  return el("span", { class: "two" }, el("b", {}, text(r.tool_name)), el("small", {}, text(r.kind).replace(/_/g, " ")));
}

function sessionLink(id) {
  if (!id) return "—";
  return el("a", { href: "?" + withSession(id), class: "mono", onclick: (e) => { e.preventDefault(); openSession(id); } }, shortId(id));
}
function withSession(id) { const q = filterQuery(); q.set("session", id); return q.toString(); }

function renderApprovals(rows, histogram) {
  const host = $("approvals");
  if (!rows.length) {
    host.replaceChildren(none("No approvals match these filters. Approvals come from approval requests (see examples/shell_accept.jsonl)."));
    $("approval-latency").replaceChildren();
    $("approval-histogram").replaceChildren();
    return;
  }
  renderLatencyHistogram(histogram);
  const legend = el("div", { class: "legend", "aria-hidden": "true" },
    OUTCOMES.map(([k, label]) => el("span", {}, el("i", { class: "o-" + k }), label)));
  host.replaceChildren(legend, table([
    { label: "subject", left: true, cell: (r) => el("span", { class: "two" },
        el("b", {}, text(r.subject).replace(/_/g, " ")), el("small", {}, "by " + text(r.reviewer)),
        el("div", { class: "stack", role: "img", "aria-label": OUTCOMES.map(([k, l]) => `${r[k] || 0} ${l}`).join(", ") },
          OUTCOMES.map(([k]) => r[k] ? el("span", { class: "o-" + k, style: `width:${(100 * r[k]) / r.reviews}%` }) : null))) },
    { key: "reviews", label: "reviews", fmt: num },
    { key: "approved", label: "approved", fmt: num },
    { key: "denied", label: "denied", fmt: num },
    { key: "aborted", label: "aborted", fmt: num },
    { key: "timed_out", label: "timed out", fmt: num },
  ], rows, { name: "approvals", caption: "Approvals by subject and reviewer" }));
  const max = Math.max(...rows.map((r) => r.p95_ms || 0));
  const lh = $("approval-latency");
  const timed = rows.filter((r) => r.p95_ms !== null && r.p95_ms !== undefined);
  lh.replaceChildren(timed.length ? table([
    { label: "subject", left: true, cell: (r) => el("span", { class: "two" }, el("b", {}, text(r.subject).replace(/_/g, " ")), el("small", {}, "by " + text(r.reviewer))) },
    { key: "p50_ms", label: "p50", fmt: ms },
    { key: "p95_ms", label: "p95", fmt: ms },
    { label: "p50 ▮ / p95 ▨ (request to answer)", left: true, cell: (r) => latencyBar(r.p50_ms, r.p95_ms, max) },
  ], timed, { name: "approval-latency" }) : none("No timed reviews."));
}

/* How review latency is distributed, one histogram per reviewer (the query layer's buckets,
 * zeros included); every bar has its count written above it. */
function renderLatencyHistogram(rows) {
  const host = $("approval-histogram");
  const reviewers = [...new Set(rows.map((r) => r.reviewer))];
  if (!reviewers.length) { host.replaceChildren(none("No reviews.")); return; }
  host.replaceChildren(...reviewers.map((who) => {
    const mine = rows.filter((r) => r.reviewer === who);
    const max = Math.max(1, ...mine.map((r) => r.reviews));
    const total = mine.reduce((a, r) => a + r.reviews, 0);
    return el("figure", { class: "hist-of", "data-histogram": who },
      el("figcaption", {}, `by ${who} (${num(total)} reviews)`),
      el("div", { class: "hist", role: "img", "aria-label": `Review latency by ${who}: ` + mine.map((r) => `${r.reviews} ${r.bucket}`).join(", ") },
        mine.map((r) => el("div", { class: "col", "data-bucket": r.bucket, "data-count": r.reviews },
          el("em", {}, num(r.reviews)),
          el("b", { style: `height:${(80 * r.reviews) / max}%` }),
          el("small", { title: r.bucket }, bucketLabel(r))))));
  }));
}
/* A bucket's short label: "< 10 ms", "10–100 ms", "100 ms–1 s", "≥ 10 min" (unknown: as is). */
function bucketLabel(r) {
  const unit = (v) => v < 1000 ? [v, "ms"] : v < 60000 ? [v / 1000, "s"] : [v / 60000, "min"];
  if (r.min_ms === null) return r.bucket;
  if (r.max_ms === null) return "≥ " + unit(r.min_ms).join(" ");
  const [hv, hu] = unit(r.max_ms);
  if (r.min_ms === 0) return `< ${hv} ${hu}`;
  const [lv, lu] = unit(r.min_ms);
  return lu === hu ? `${lv}–${hv} ${hu}` : `${lv} ${lu}–${hv} ${hu}`;
}

function renderSessions(rows) {
  const host = $("sessions");
  if (!rows.length) { host.replaceChildren(none("No sessions match these filters.")); return; }
  const open = params().get("session");
  host.replaceChildren(table([
    { key: "thread_id", label: "session", left: true, cell: (r) => el("span", { class: "mono", title: r.thread_id }, shortId(r.thread_id)) },
    { key: "started_at", label: "started", left: true, fmt: when },
    { key: "duration_ms", label: "duration", fmt: ms },
    { key: "turns", label: "turns", fmt: num },
    { key: "total_tokens", label: "tokens", fmt: num },
    { key: "cost_usd", label: "cost", fmt: usd },
    { key: "tool_calls", label: "tool calls", fmt: num },
    { key: "reviews", label: "reviews", fmt: num },
    { key: "subagents", label: "subagents", fmt: num },
  ], rows, {
    name: "sessions", caption: "Sessions",
    rowAttrs: (r) => ({
      class: "pick" + (r.thread_id === open ? " selected" : ""), tabindex: "0", "data-thread": r.thread_id,
      "aria-label": `Open session ${r.thread_id}`,
      onclick: () => openSession(r.thread_id),
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openSession(r.thread_id); } },
    }),
  }));
}

function renderSimple(id, rows, empty, columns) {
  const host = $(id);
  if (!rows || !rows.length) { host.replaceChildren(none(empty)); return; }
  host.replaceChildren(table(columns, rows, { name: id }));
}
const yesNo = (v) => v === null || v === undefined ? "—" : v ? "yes" : "no";
const GOAL_COLUMNS = [
  { key: "status", label: "status", left: true },
  { key: "thread_id", label: "session", left: true, cell: (r) => sessionLink(r.thread_id) },
  { key: "turns", label: "turns", fmt: num },
  { key: "accounted_tokens", label: "tokens", fmt: num },
  { key: "accounted_time_ms", label: "time", fmt: ms },
  { key: "cost_usd", label: "cost", fmt: usd },
  { key: "cleared", label: "cleared", fmt: yesNo },
];
const HOOK_COLUMNS = [
  { label: "hook", left: true, cell: (r) => el("span", { class: "two" }, el("b", {}, text(r.hook_name)), el("small", {}, text(r.hook_source))) },
  { key: "runs", label: "runs", fmt: num },
  { key: "completed", label: "ok", fmt: num },
  { key: "failed", label: "failed", fmt: num },
  { key: "blocked", label: "blocked", fmt: num },
  { key: "stopped", label: "stopped", fmt: num },
];
const COMPACTION_COLUMNS = [
  { label: "kind", left: true, cell: (r) => el("span", { class: "two" }, el("b", {}, text(r.trigger) + (r.reason ? " · " + r.reason.replace(/_/g, " ") : "")), el("small", {}, text(r.phase).replace(/_/g, " "))) },
  { key: "compactions", label: "count", fmt: num },
  { key: "completed", label: "ok", fmt: num },
  { key: "failed", label: "failed", fmt: num },
  { key: "p50_ms", label: "p50", fmt: ms },
  { key: "standalone_cost_usd", label: "cost", fmt: usd },
];

/* ---------- one session ---------- */
async function openSession(id) {
  setUrl((p) => p.set("session", id), true);
  for (const tr of document.querySelectorAll("tr[data-thread]")) tr.classList.toggle("selected", tr.dataset.thread === id);
  let s;
  try { s = await getJSON("session/" + encodeURIComponent(id), filterQuery()); }
  catch (e) { s = { error: e.message }; }
  renderSession(s);
  $("session").focus();
}
function closeSession() {
  setUrl((p) => p.delete("session"), true);
  renderSession(null);
  const row = document.querySelector("tr.selected");
  if (row) { row.classList.remove("selected"); row.focus(); }
}

function renderSession(s) {
  const panel = $("session");
  if (!s) { panel.hidden = true; return; }
  panel.hidden = false;
  const body = $("session-body");
  if (s.error) { $("h-session").textContent = "Session"; body.replaceChildren(none(s.error)); return; }
  $("h-session").textContent = "Session " + shortId(s.thread_id);
  const h = s.summary || {};
  body.replaceChildren(
    el("dl", { class: "kv" },
      el("dt", {}, "thread"), el("dd", { class: "mono" }, s.thread_id),
      s.parent_thread_id ? [el("dt", {}, "spawned by"), el("dd", {}, sessionLink(s.parent_thread_id))] : null,
      el("dt", {}, "started"), el("dd", {}, when(h.started_at)),
      el("dt", {}, "turns"), el("dd", {}, num(s.turns.length)),
      el("dt", {}, "tokens"), el("dd", {}, num(h.total_tokens)),
      el("dt", {}, "cost"), el("dd", {}, usd(h.cost_usd))),
    el("h3", {}, "Timeline"),
    timeline(s),
    el("p", { class: "hint", id: "span-detail", "aria-live": "polite" }, "Hover or focus a bar for what it is."),
    el("div", { class: "legend" },
      el("span", {}, el("i", { class: "k-turn", style: "background:var(--blue)" }), "turn"),
      el("span", {}, el("i", { style: "background:var(--orange)" }), "tool call"),
      el("span", {}, el("i", { style: "background:var(--green)" }), "review, approved"),
      el("span", {}, el("i", { style: "background:var(--vermillion)" }), "review, not approved")),
    el("h3", {}, "Turns"),
    s.turns.length ? table([
      { key: "turn_id", label: "turn", left: true, cell: (r) => el("span", { class: "mono", title: r.turn_id }, shortId(r.turn_id)) },
      { key: "status", label: "status", left: true },
      { key: "model", label: "model", left: true },
      { key: "duration_ms", label: "duration", fmt: ms },
      { label: "tool calls", cell: (r) => num(r.tools.length) },
      { label: "reviews", cell: (r) => num(r.reviews.length) },
      { key: "total_tokens", label: "tokens", fmt: num },
      { key: "cost_usd", label: "cost", fmt: usd },
    ], s.turns, { name: "session-turns" }) : none("No turns in this session."),
    el("h3", {}, "Subagent tree"),
    tree(s.tree));
}

function tree(node) {
  if (!node) return none("No subagents.");
  const item = (n) => el("li", {},
    el("a", { href: "?" + withSession(n.thread_id), class: "mono", onclick: (e) => { e.preventDefault(); openSession(n.thread_id); } }, shortId(n.thread_id)),
    n.label ? " " + n.label : "",
    n.children && n.children.length ? el("ul", {}, n.children.map(item)) : null);
  return el("ul", { class: "tree", "data-tree": "1" }, item(node));
}

/* Turns, tool calls and reviews of one session on one time axis (SVG). */
function timeline(s) {
  const spans = s.spans || [];
  const wrap = el("div", { class: "timeline", "data-timeline": "1" });
  if (!spans.length) { wrap.append(none("Nothing timed in this session.")); return wrap; }
  const t0 = Math.min(...spans.map((x) => x.start_ms));
  const t1 = Math.max(...spans.map((x) => x.start_ms + Math.max(0, x.duration_ms || 0)));
  const range = Math.max(1, t1 - t0);
  const lanes = ["turn", "tool", "review"];
  const laneH = 26, left = 70, W = 1000, H = lanes.length * laneH + 30;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Timeline of ${spans.length} spans over ${ms(range)}`);
  const mk = (tag, attrs, txt) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (txt !== undefined) n.textContent = txt;
    return n;
  };
  const x = (t) => left + ((W - left - 10) * (t - t0)) / range;
  const axis = mk("g", { class: "axis" });
  for (let i = 0; i <= 5; i++) {
    const t = t0 + (range * i) / 5;
    axis.append(mk("line", { x1: x(t), x2: x(t), y1: 0, y2: lanes.length * laneH }));
    axis.append(mk("text", { x: x(t), y: lanes.length * laneH + 16, "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle" }, "+" + ms(t - t0)));
  }
  svg.append(axis);
  lanes.forEach((lane, i) => svg.append(mk("text", { x: 0, y: i * laneH + 17 }, lane === "tool" ? "tool calls" : lane + "s")));
  for (const sp of spans) {
    const lane = lanes.indexOf(sp.lane);
    if (lane < 0) continue;
    const w = Math.max(3, x(sp.start_ms + Math.max(0, sp.duration_ms || 0)) - x(sp.start_ms));
    const cls = sp.lane === "turn" ? "k-turn" : sp.lane === "tool" ? "k-tool" : sp.ok === false ? "k-review-no" : "k-review";
    const r = mk("rect", { x: x(sp.start_ms), y: lane * laneH + 4, width: w, height: laneH - 8, rx: 2, class: cls, tabindex: "0", "data-lane": sp.lane });
    const what = `${sp.label} — ${ms(sp.duration_ms)} at +${ms(sp.start_ms - t0)}`;
    r.append(mk("title", {}, what));
    const show = () => { const d = $("span-detail"); if (d) d.textContent = what; };
    r.addEventListener("focus", show);
    r.addEventListener("mouseenter", show);
    svg.append(r);
  }
  wrap.append(svg);
  return wrap;
}

/* ---------- wiring ---------- */
$("filters").addEventListener("submit", (e) => {
  e.preventDefault();
  setUrl((p) => { for (const k of FILTERS) { const v = $("f-" + k).value.trim(); if (v) p.set(k, v); else p.delete(k); } }, true);
  refresh(true);
});
$("f-reset").addEventListener("click", () => {
  setUrl((p) => { for (const k of FILTERS) p.delete(k); }, true);
  fillFilterForm();
  refresh(true);
});
$("session-close").addEventListener("click", closeSession);
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("session").hidden) closeSession(); });
window.addEventListener("popstate", () => { fillFilterForm(); refresh(true); });
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => state.summary && renderUsage(state.summary.daily, state.summary.unpriced_models || []), 150);
});

fillFilterForm();
refresh(true);
setInterval(() => { if (!state.loading) refresh(false); }, POLL_MS);
