/**
 * A latency-percentile chart as a self-contained SVG: x is the percentile on
 * a "nines" scale (p50, p90, p99, p99.9 evenly apart), y is latency on a log
 * scale; one polyline per system, a legend, and a title.
 *
 * @module
 */

import { percentile } from "./stats.ts";

/** One curve: a system and its latency sample (ms, ascending). */
export interface Series {
  name: string;
  sortedMs: ArrayLike<number>;
  /** Dashed line (used for simulations). */
  dashed?: boolean;
  /** A stroke-dasharray of its own (overrides `dashed`). */
  dash?: string;
  /** Line width (default 2). */
  width?: number;
  /** Drawn after the others, so it stays visible where curves overlap. */
  onTop?: boolean;
}

/** Chart options. */
export interface ChartOptions {
  title: string;
  subtitle?: string;
  width?: number;
  height?: number;
}

const COLORS = [
  "#222222",
  "#777777",
  "#d62728",
  "#1f77b4",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
];

/** Escapes text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) =>
      ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[
        c
      ]!,
  );
}

const nines = (p: number) => -Math.log10(1 - p / 100);

/** Renders the chart. Series with no samples are left out. */
export function latencyChart(series: Series[], opts: ChartOptions): string {
  const W = opts.width ?? 960, H = opts.height ?? 560;
  const m = { l: 70, r: 250, t: 64, b: 56 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const xMin = nines(50), xMax = 3;
  const steps = 80;
  const ps: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const x = xMin + (xMax - xMin) * i / steps;
    ps.push(100 * (1 - Math.pow(10, -x)));
  }
  const live = series.filter((s) => s.sortedMs.length > 0);
  let lo = Infinity, hi = -Infinity;
  for (const s of live) {
    for (const p of ps) {
      const v = percentile(s.sortedMs, p);
      if (v > 0) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (!isFinite(lo)) {
    lo = 1;
    hi = 10;
  }
  const yLo = Math.pow(10, Math.floor(Math.log10(lo) * 4) / 4);
  const yHi = Math.pow(10, Math.ceil(Math.log10(hi) * 4) / 4);
  const ly = (v: number) =>
    m.t + ph - ph * (Math.log10(Math.max(v, yLo)) - Math.log10(yLo)) /
      (Math.log10(yHi) - Math.log10(yLo) || 1);
  const lx = (p: number) => m.l + pw * (nines(p) - xMin) / (xMax - xMin);
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(
    `<text x="${m.l}" y="24" font-size="16" font-weight="bold">${
      xmlEscape(opts.title)
    }</text>`,
  );
  if (opts.subtitle) {
    out.push(
      `<text x="${m.l}" y="44" fill="#555555">${
        xmlEscape(opts.subtitle)
      }</text>`,
    );
  }
  // y grid: 1-2-5 ticks within range
  for (
    let d = Math.floor(Math.log10(yLo));
    d <= Math.ceil(Math.log10(yHi));
    d++
  ) {
    for (const k of [1, 2, 5]) {
      const v = k * Math.pow(10, d);
      if (v < yLo * 0.999 || v > yHi * 1.001) continue;
      const y = ly(v);
      out.push(
        `<line x1="${m.l}" y1="${f(y)}" x2="${m.l + pw}" y2="${
          f(y)
        }" stroke="#e0e0e0"/>`,
      );
      out.push(
        `<text x="${m.l - 6}" y="${f(y + 4)}" text-anchor="end">${
          v >= 1 ? v : v.toPrecision(1)
        }</text>`,
      );
    }
  }
  for (const p of [50, 75, 90, 95, 99, 99.5, 99.9]) {
    const x = lx(p);
    out.push(
      `<line x1="${f(x)}" y1="${m.t}" x2="${f(x)}" y2="${
        m.t + ph
      }" stroke="#e0e0e0"/>`,
    );
    out.push(
      `<text x="${f(x)}" y="${
        m.t + ph + 18
      }" text-anchor="middle">p${p}</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`,
  );
  out.push(
    `<text x="${m.l + pw / 2}" y="${
      H - 12
    }" text-anchor="middle">percentile</text>`,
  );
  out.push(
    `<text transform="translate(18 ${
      m.t + ph / 2
    }) rotate(-90)" text-anchor="middle">latency, ms (log scale)</text>`,
  );
  const style = (s: Series) => {
    const dash = s.dash ?? (s.dashed ? "6 4" : undefined);
    return ` stroke-width="${s.width ?? 2}"${
      dash ? ` stroke-dasharray="${dash}"` : ""
    }`;
  };
  const legend: string[] = [];
  const lines: string[] = [], top: string[] = [];
  live.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = ps.map((p) => `${f(lx(p))},${f(ly(percentile(s.sortedMs, p)))}`)
      .join(" ");
    (s.onTop ? top : lines).push(
      `<polyline fill="none" stroke="${color}"${style(s)} points="${pts}"/>`,
    );
    const y = m.t + 10 + i * 20;
    const x = m.l + pw + 14;
    legend.push(
      `<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${color}"${
        style(s)
      }/>`,
    );
    legend.push(`<text x="${x + 30}" y="${y + 4}">${xmlEscape(s.name)}</text>`);
  });
  out.push(...lines, ...top, ...legend);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
