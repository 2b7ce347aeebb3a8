/**
 * The targets of issue 6, checked against the figures of the same run.
 *
 * @module
 */

import type { OverheadRow } from "./scenario_overhead.ts";
import type { StreamRow } from "./scenario_stream.ts";
import type { TailRow } from "./scenario_tail.ts";
import { fx, mdTable } from "./table.ts";

/** What a run measured (any part may be missing). */
export interface RunFigures {
  tail50?: TailRow[];
  overhead?: OverheadRow[];
  stream?: StreamRow[];
  /** Hub VmRSS (KiB) with the idle worker connections, and their count. */
  idle?: { rssKiB: number; count: number };
}

const HAPROXY = "HAProxy leastconn, maxconn 1";
const verdict = (
  ok: boolean | undefined,
) => (ok === undefined ? "—" : ok ? "met" : "**not met**");

/** A markdown table of each target, the measured figures, and whether it is met. */
export function targetsTable(f: RunFigures): string {
  const rows: string[][] = [];
  if (f.tail50) {
    const p = f.tail50.find((r) => r.name === "pothead");
    const h = f.tail50.find((r) => r.name === HAPROXY);
    const ideal = f.tail50.find((r) =>
      r.simulated && r.name.includes("measured")
    );
    if (p && h) {
      rows.push([
        "tail p99 below HAProxy maxconn 1's",
        `${fx(p.summary.p99)} vs ${fx(h.summary.p99)} ms`,
        verdict(p.summary.p99 < h.summary.p99),
      ]);
    }
    if (p && ideal) {
      const r = p.summary.p99 / ideal.summary.p99;
      rows.push([
        "tail p99 ≤ 1.02 × ideal (real service time)",
        `${fx(r, 3)} ×`,
        verdict(r <= 1.02),
      ]);
    }
  }
  if (f.overhead) {
    const p = f.overhead.find((r) => r.id === "pothead");
    const h = f.overhead.find((r) => r.id === "haproxy-lc");
    const h1 = f.overhead.find((r) => r.id === "haproxy-lc1");
    if (p && h) {
      const r = p.wrk.rps / h.wrk.rps;
      rows.push([
        "per-request throughput ≥ 1.25 × HAProxy maxconn 1 (default threads)",
        `${fx(r, 2)} × (${fx(p.wrk.rps, 0)} vs ${fx(h.wrk.rps, 0)} req/s)`,
        verdict(r >= 1.25),
      ]);
      rows.push([
        "… with p50 no higher than HAProxy's",
        `${fx(p.wrk.p50Ms, 2)} vs ${fx(h.wrk.p50Ms, 2)} ms`,
        verdict(p.wrk.p50Ms <= h.wrk.p50Ms),
      ]);
    }
    if (p && h1) {
      const r = p.wrk.rps / h1.wrk.rps;
      rows.push([
        "(for reference) against HAProxy maxconn 1 with nbthread 1",
        `${fx(r, 2)} × (${fx(p.wrk.rps, 0)} vs ${fx(h1.wrk.rps, 0)} req/s)`,
        verdict(r >= 1.25),
      ]);
    }
  }
  if (f.stream) {
    const p = f.stream.find((r) => r.id === "pothead");
    const h = f.stream.find((r) => r.id === "haproxy-lc");
    if (p && h && p.down.ok && p.up.ok && h.down.ok && h.up.ok) {
      const d = p.down.mbPerS / h.down.mbPerS, u = p.up.mbPerS / h.up.mbPerS;
      rows.push([
        "streaming ≥ 50 % of HAProxy's throughput (down / up)",
        `${fx(100 * d, 0)} % / ${fx(100 * u, 0)} %`,
        verdict(d >= 0.5 && u >= 0.5),
      ]);
    }
    if (p) {
      rows.push([
        "… hub peak RSS under 150 MiB",
        `${fx(p.peakRssMiB)} MiB`,
        verdict(p.peakRssMiB < 150),
      ]);
    }
  }
  if (f.idle) {
    const mib = f.idle.rssKiB / 1024;
    rows.push([
      `${
        f.idle.count.toLocaleString("en-US")
      } idle worker connections under 100 MiB of hub RSS`,
      `${fx(mib)} MiB`,
      verdict(f.idle.count >= 10_000 ? mib < 100 : undefined),
    ]);
  }
  if (rows.length === 0) return "";
  return [
    "### Targets of issue 6, this run",
    "",
    mdTable(["target", "measured", "verdict"], rows),
    "",
  ].join(
    "\n",
  );
}
