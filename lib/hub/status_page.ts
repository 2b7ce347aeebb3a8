/**
 * The status page the hub serves at `/` on its metrics port: plain HTML, CSS
 * and JavaScript kept here as strings, so `deno compile` and `deno publish`
 * carry them with the code and nothing is fetched from elsewhere (no CDN, no
 * build step).
 *
 * The script reads `events` (server-sent events, one snapshot a second; the
 * first one of a connection carries the whole history, the later ones only
 * the newest second) and draws small SVG charts. Every number has a
 * `data-pool`/`data-field` pair, so tests can find it.
 *
 * @module
 */

/** `/`: the page. */
export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pothead hub</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="status.css">
<script src="status.js" defer></script>
</head>
<body>
<header>
  <h1>pothead hub</h1>
  <span id="conn" class="pill" data-state="connecting">connecting</span>
  <span class="meta">up <span id="uptime">–</span></span>
  <span class="meta">updated <time id="updated">–</time></span>
  <span class="meta"><a href="metrics">/metrics</a> · <a href="status.json">/status.json</a></span>
</header>
<main>
  <table id="pools">
    <thead>
      <tr>
        <th>pool</th><th>queue</th><th>idle</th><th>busy</th>
        <th title="responses per second, last 5 s">req/s</th>
        <th title="queue wait over the last minute">wait p50 (1 min)</th>
        <th title="queue wait over the last minute">wait p99 (1 min)</th>
        <th title="responses since the hub started">requests</th>
        <th title="responses with status 500 or above">errors</th>
      </tr>
    </thead>
    <tbody></tbody>
  </table>
  <p id="empty" hidden>No pools.</p>
  <div id="charts"></div>
</main>
<noscript>This page needs JavaScript; the same numbers are at <a href="status.json">/status.json</a>.</noscript>
</body>
</html>
`;

/** `/status.css`: the page's style. */
export const STATUS_CSS = `:root {
  color-scheme: light dark;
  --fg: #1b1f24; --muted: #667; --bg: #fff; --card: #f5f6f8; --line: #d8dbe0;
  --queue: #c2410c; --idle: #15803d; --busy: #1d4ed8; --p50: #7c3aed; --p99: #db2777;
  --rate: #0f766e; --err: #b91c1c;
}
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e8eb; --muted: #9aa; --bg: #121417; --card: #1c1f24; --line: #30343b; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; align-items: baseline;
  padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.1rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
h2 .meta { font-weight: normal; font-size: .8rem; }
a { color: inherit; }
.meta { color: var(--muted); }
.pill { padding: 0 .5rem; border-radius: 1rem; font-size: .8rem; background: var(--card); border: 1px solid var(--line); }
.pill[data-state="live"] { color: var(--idle); }
.pill[data-state="draining"], .pill[data-state="reconnecting"] { color: var(--queue); }
main { padding: 1rem 1.25rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .3rem .8rem; text-align: right; border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
th { font-weight: 600; color: var(--muted); }
#charts { display: grid; gap: 1rem; margin-top: 1.25rem; }
.pool { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; }
figcaption { font-size: .8rem; color: var(--muted); }
figcaption .key { display: inline-block; width: .7rem; height: .2rem; margin: 0 .2rem .2rem .4rem; vertical-align: middle; }
svg { display: block; width: 300px; height: 70px; background: var(--bg); border: 1px solid var(--line); }
svg path { fill: none; stroke-width: 1.5; }
svg text { font-size: 10px; fill: var(--muted); }
.s-queue { stroke: var(--queue); background: var(--queue); }
.s-idle { stroke: var(--idle); background: var(--idle); }
.s-busy { stroke: var(--busy); background: var(--busy); }
.s-p50 { stroke: var(--p50); background: var(--p50); }
.s-p99 { stroke: var(--p99); background: var(--p99); }
.s-rate { stroke: var(--rate); background: var(--rate); }
.s-errors { stroke: var(--err); background: var(--err); }
`;

/** `/status.js`: the page's script (plain browser JavaScript). */
export const STATUS_JS = `"use strict";
(() => {
  const HISTORY = 300; // seconds drawn
  const SVG = "http://www.w3.org/2000/svg";
  const W = 300, H = 70, PAD = 12;
  const pools = new Map(); // name -> { series, status, row, card }
  const $ = (id) => document.getElementById(id);

  const fmtMs = (v) => {
    if (v === null || v === undefined) return "–";
    if (v === 0) return "<0.1 ms"; // the histogram's lowest bucket
    if (v < 1) return v.toFixed(2) + " ms";
    if (v < 100) return v.toFixed(1) + " ms";
    if (v < 10000) return Math.round(v) + " ms";
    return (v / 1000).toFixed(1) + " s";
  };
  const fmtNum = (v) => (v === null || v === undefined) ? "–" : String(v);
  const fmtDuration = (s) => {
    if (s < 120) return s + " s";
    if (s < 7200) return Math.floor(s / 60) + " min";
    if (s < 172800) return Math.floor(s / 3600) + " h";
    return Math.floor(s / 86400) + " d";
  };
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };

  const CHARTS = [
    { title: "queue length", lines: [["queued", "queue"]] },
    { title: "workers", lines: [["idle", "idle"], ["busy", "busy"]] },
    { title: "queue wait, ms", lines: [["p50", "p50"], ["p99", "p99"]] },
    { title: "responses/s", lines: [["responses", "rate"], ["errors", "errors"]] },
  ];

  function makePool(name) {
    const row = el("tr", { "data-pool": name });
    row.append(el("td", { "data-field": "name" }, name));
    for (const f of ["queued", "idle", "busy", "rate", "p50", "p99", "requests", "errors"]) {
      row.append(el("td", { "data-field": f }, "–"));
    }
    document.querySelector("#pools tbody").append(row);
    const card = el("section", { class: "pool", "data-pool": name });
    const h2 = el("h2", {}, name);
    h2.append(" ", el("span", { class: "span meta" }));
    card.append(h2);
    const charts = el("div", { class: "charts" });
    for (const c of CHARTS) {
      const fig = el("figure", { "data-chart": c.lines[0][0] });
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", name + ": " + c.title);
      fig.append(svg);
      const cap = el("figcaption", {}, c.title);
      for (const [field, cls] of c.lines) {
        cap.append(el("span", { class: "key s-" + cls }), field);
      }
      fig.append(cap);
      charts.append(fig);
    }
    card.append(charts);
    $("charts").append(card);
    return { series: [], status: null, row, card };
  }

  function draw(svg, series, lines, tEnd) {
    while (svg.firstChild) svg.firstChild.remove();
    let max = 0;
    for (const s of series) {
      for (const [field] of lines) {
        const v = s[field];
        if (v !== null && v > max) max = v;
      }
    }
    const top = max > 0 ? max : 1;
    // The time axis spans the history there is, one minute at least.
    const first = series.length ? series[0].t : tEnd;
    const span = Math.min(HISTORY, Math.max(60, tEnd - first));
    const x = (t) => ((t - (tEnd - span)) / span) * W;
    const y = (v) => H - 2 - (v / top) * (H - PAD - 2);
    for (const [field, cls] of lines) {
      let d = "", prevT = null;
      for (const s of series) {
        const v = s[field];
        if (v === null || v === undefined) { prevT = null; continue; }
        // A gap of more than two seconds (a restart, a stall) breaks the line.
        const move = prevT === null || s.t - prevT > 2;
        d += (move ? "M" : "L") + x(s.t).toFixed(1) + " " + y(v).toFixed(1);
        prevT = s.t;
      }
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("class", "s-" + cls);
      path.setAttribute("d", d || "M0 0");
      svg.append(path);
    }
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", "3");
    label.setAttribute("y", "10");
    label.textContent = "max " + (lines[0][0].startsWith("p") ? fmtMs(max) : max);
    svg.append(label);
  }

  function render(snap) {
    $("uptime").textContent = fmtDuration(snap.uptime_s);
    const upd = $("updated");
    upd.textContent = new Date(snap.time).toLocaleTimeString();
    upd.setAttribute("datetime", snap.time);
    const conn = $("conn");
    const state = snap.draining ? "draining" : "live";
    conn.dataset.state = state;
    conn.textContent = state;
    $("empty").hidden = snap.pools.length > 0;
    for (const p of pools.values()) {
      const st = p.status;
      const set = (f, v) => { p.row.querySelector('[data-field="' + f + '"]').textContent = v; };
      set("queued", fmtNum(st.queued));
      set("idle", fmtNum(st.idle));
      set("busy", fmtNum(st.busy));
      const recent = p.series.slice(-5);
      const rate = recent.length ? recent.reduce((n, s) => n + s.responses, 0) / recent.length : 0;
      set("rate", rate.toFixed(rate < 10 ? 1 : 0));
      set("p50", fmtMs(st.window.p50));
      set("p99", fmtMs(st.window.p99));
      set("requests", fmtNum(st.totals.responses));
      set("errors", fmtNum(st.totals.errors));
      const tEnd = p.series.length ? p.series[p.series.length - 1].t : snap.t;
      const svgs = p.card.querySelectorAll("svg");
      CHARTS.forEach((c, i) => draw(svgs[i], p.series, c.lines, tEnd));
      p.card.querySelector(".span").textContent = p.series.length
        ? "last " + fmtDuration(Math.min(HISTORY, tEnd - p.series[0].t + 1))
        : "";
    }
  }

  function apply(snap) {
    const seen = new Set();
    for (const st of snap.pools) {
      seen.add(st.name);
      let p = pools.get(st.name);
      if (!p) { p = makePool(st.name); pools.set(st.name, p); }
      const last = p.series.length ? p.series[p.series.length - 1].t : -Infinity;
      for (const s of st.series) if (s.t > last) p.series.push(s);
      if (p.series.length > HISTORY) p.series.splice(0, p.series.length - HISTORY);
      p.status = st;
    }
    for (const [name, p] of pools) {
      if (seen.has(name)) continue;
      p.row.remove();
      p.card.remove();
      pools.delete(name);
    }
    render(snap);
  }

  const es = new EventSource("events");
  es.onmessage = (e) => apply(JSON.parse(e.data));
  es.onerror = () => {
    const conn = $("conn");
    conn.dataset.state = "reconnecting";
    conn.textContent = "reconnecting";
  };
})();
`;
