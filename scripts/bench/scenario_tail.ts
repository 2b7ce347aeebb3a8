/**
 * The tail-latency scenario: four one-job-at-a-time workers, open-loop seeded
 * Poisson arrivals at a fraction of their capacity, a two-size job mix; the
 * identical arrival sequence for every system and for the ideal central
 * FIFO queue simulated with zero-overhead and with the app's measured
 * service times.
 *
 * @module
 */

import { startBackends } from "./backends.ts";
import { measureServiceTimes } from "./calibrate.ts";
import { deadTimes } from "./dead_time.ts";
import { ServiceTimes, type SimJob, simulateFifo } from "./ideal_queue.ts";
import { runOpenLoop } from "./load_generator.ts";
import {
  type JobSize,
  makeArrivals,
  meanJobMs,
  mulberry32,
  type WorkloadSpec,
} from "./prng.ts";
import { sleep } from "./procs.ts";
import { percentile, sorted, summarize, type Summary } from "./stats.ts";
import { latencyChart, type Series } from "./svg_chart.ts";
import { startSystem, SYSTEM_NAMES, type SystemId } from "./systems.ts";
import { fx, int, mdTable } from "./table.ts";

/** Zero-length jobs each system serves before the measured run. */
export const WARMUP_JOBS = 2000;

/** Simulations pooled for the ideal queue with the measured service time. */
export const SIM_REPLICAS = 20;

/** Options of one tail run. */
export interface TailOptions {
  label: string;
  seed: number;
  durationMs: number;
  load: number;
  servers: number;
  sizes: JobSize[];
  systems: SystemId[];
  /** How many rounds the systems in `repeated` run (default 1). */
  rounds?: number;
  /** Systems run in every round; the others run once. */
  repeated?: SystemId[];
  dir: string;
  machineLine: string;
  log: (s: string) => void;
}

/** One row of the result. */
export interface TailRow {
  name: string;
  simulated: boolean;
  summary: Summary;
  failed: number;
  errors: string[];
  sortedMs: Float64Array;
  lag?: Summary;
  peakConns?: number;
  clientQueued?: number;
  genCpuPct?: number;
  /**
   * p99 of the ideal FIFO fed this run's own job durations (the `x-job-us`
   * the app measured in each job): what is left above it is the balancer's
   * own cost, with the app's slowdown under this system taken out.
   */
  ownIdealP99?: number;
  /** Mean job duration the app measured in this run, per nominal size. */
  jobMeanMs?: Map<number, number>;
  /** Slot dead time: idle gaps (ms) after a job while a request waited. */
  dead?: { mean: number; p50: number; p90: number; n: number };
  /** p99 of every round this system ran, in order (when it ran more than once). */
  roundP99s?: number[];
}

/**
 * The run with the median p99 of a system's rounds (the lower middle one for
 * an even count), carrying every round's p99.
 */
export function medianRun(runs: readonly TailRow[]): TailRow {
  if (runs.length === 0) throw new RangeError("no runs");
  const order = [...runs].sort((a, b) => a.summary.p99 - b.summary.p99);
  const mid = order[Math.floor((order.length - 1) / 2)];
  return runs.length > 1
    ? { ...mid, roundP99s: runs.map((r) => r.summary.p99) }
    : mid;
}

/** The result: markdown, SVG, and data. */
export interface TailResult {
  markdown: string;
  svg: string;
  rows: TailRow[];
}

/**
 * The arrivals with the durations the app measured in one run (nominal size
 * where a response carried none), and the mean measured duration per size.
 */
export function ownJobTimes(
  arrivals: readonly { atMs: number; jobMs: number }[],
  measuredMs: Float64Array,
): { jobs: SimJob[]; meanBySize: Map<number, number> } {
  const sum = new Map<number, [number, number]>();
  const jobs = arrivals.map((a, i) => {
    const m = measuredMs[i];
    if (Number.isNaN(m)) return { atMs: a.atMs, serviceMs: a.jobMs };
    const s = sum.get(a.jobMs) ?? [0, 0];
    s[0] += m;
    s[1]++;
    sum.set(a.jobMs, s);
    return { atMs: a.atMs, serviceMs: m };
  });
  const meanBySize = new Map(
    [...sum].sort((x, y) => x[0] - y[0]).map(([k, [t, n]]) => [k, t / n]),
  );
  return { jobs, meanBySize };
}

function deadSummary(
  gaps: number[],
): { mean: number; p50: number; p90: number; n: number } {
  const s = summarize(gaps);
  return { mean: s.mean, p50: s.p50, p90: s.p90, n: s.n };
}

/** Runs the scenario. */
export async function runTail(o: TailOptions): Promise<TailResult> {
  const spec: WorkloadSpec = {
    seed: o.seed,
    durationMs: o.durationMs,
    servers: o.servers,
    load: o.load,
    sizes: o.sizes,
  };
  const arrivals = makeArrivals(spec);
  o.log(
    `tail ${o.label}: ${arrivals.length} arrivals over ${
      o.durationMs / 1000
    } s (seed ${o.seed}, load ${o.load})`,
  );

  // the app's real service time, per nominal size
  const perSize = new Map<number, number>();
  for (const s of o.sizes) {
    perSize.set(
      s.ms,
      Math.max(24, Math.min(600, Math.round(6000 / Math.max(s.ms, 5)))),
    );
  }
  const measured = await measureServiceTimes(perSize, o.servers);
  const st = new ServiceTimes(measured);
  const calib = st.sizes().map((ms) => {
    const s = summarize(measured.get(ms)!);
    return `${ms} ms → mean ${s.mean.toFixed(2)}, p50 ${
      s.p50.toFixed(2)
    }, p99 ${s.p99.toFixed(2)} ms (n=${s.n})`;
  }).join("; ");
  o.log(`  measured job durations: ${calib}`);

  const rows: TailRow[] = [];
  const simRow = (name: string, lat: number[]): TailRow => {
    const s = sorted(lat);
    return {
      name,
      simulated: true,
      summary: summarize(lat),
      failed: 0,
      errors: [],
      sortedMs: s,
    };
  };
  const zero = simulateFifo(
    arrivals.map((a) => ({ atMs: a.atMs, serviceMs: a.jobMs })),
    o.servers,
  );
  rows.push(simRow("ideal central FIFO, simulated, zero overhead", zero));
  // The real service time is random: pool REPLICAS simulations, each with its
  // own draw of service times, so the reference is the expected distribution
  // rather than one lucky or unlucky draw.
  const rnd = mulberry32(o.seed ^ 0x5eed);
  const real: number[] = [];
  for (let k = 0; k < SIM_REPLICAS; k++) {
    const lat = simulateFifo(
      arrivals.map((a) => ({
        atMs: a.atMs,
        serviceMs: st.sample(a.jobMs, rnd()),
      })),
      o.servers,
    );
    for (const x of lat) real.push(x);
  }
  rows.push(
    simRow("ideal central FIFO, simulated, app's measured service time", real),
  );

  const needBackends = o.systems.some((id) => id !== "pothead");
  const backends = needBackends ? await startBackends(o.servers) : undefined;
  // Rounds: the first runs every system; later ones only the systems whose
  // comparison is close enough that one 60 s run on a shared machine cannot
  // settle it, alternating so that a noisy minute hits both alike.
  const rounds = Math.max(1, o.rounds ?? 1);
  const plan: { id: SystemId; round: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const id of o.systems) {
      if (round === 0 || (o.repeated ?? []).includes(id)) {
        plan.push({ id, round });
      }
    }
  }
  const byId = new Map<SystemId, TailRow[]>();
  try {
    for (const { id, round } of plan) {
      o.log(
        `  ${SYSTEM_NAMES[id]}${rounds > 1 ? ` (round ${round + 1})` : ""} …`,
      );
      const sys = await startSystem(id, backends, o.servers, o.dir, {
        maxQueue: 20000,
        queueTimeout: "60s",
      });
      try {
        // Warm-up, the same for every system: 2,000 zero-length jobs offered
        // at 1,000/s (the JavaScript on every path reaches its optimised
        // state, as in a service that has been running), then a pause.
        const warm = Array.from(
          { length: WARMUP_JOBS },
          (_, i) => ({ atMs: i, jobMs: 0 }),
        );
        await runOpenLoop({
          host: "127.0.0.1",
          port: sys.port,
          arrivals: warm,
          path: (a) => `/job?ms=${a.jobMs}`,
        });
        await sleep(500);
        const r = await runOpenLoop({
          host: "127.0.0.1",
          port: sys.port,
          arrivals,
          path: (a) => `/job?ms=${a.jobMs}`,
          timeoutMs: 120_000,
        });
        const lat = [...r.latencyMs].filter((x) => !isNaN(x));
        const own = ownJobTimes(arrivals, r.jobMs);
        const row: TailRow = {
          name: SYSTEM_NAMES[id],
          simulated: false,
          summary: summarize(lat),
          failed: r.failed,
          errors: r.errorSamples,
          sortedMs: sorted(lat),
          lag: summarize([...r.sendLagMs]),
          peakConns: r.peakConns,
          clientQueued: r.clientQueued,
          genCpuPct: 100 * r.cpuSec / (r.wallMs / 1000),
          ownIdealP99: summarize(simulateFifo(own.jobs, o.servers)).p99,
          jobMeanMs: own.meanBySize,
          dead: deadSummary(deadTimes(r.jobTimes)),
        };
        const runs = byId.get(id) ?? [];
        runs.push(row);
        byId.set(id, runs);
        o.log(
          `    p50 ${fx(row.summary.p50)} p99 ${
            fx(row.summary.p99)
          } ms (ideal with this run's job times: p99 ${
            fx(row.ownIdealP99!)
          }; mean job ${
            [...own.meanBySize].map(([k, v]) => `${k}→${v.toFixed(2)}`).join(
              ", ",
            )
          } ms; slot dead time mean ${fx(row.dead?.mean ?? NaN, 3)} ms over ${
            row.dead?.n ?? 0
          } gaps), failed ${r.failed}${
            r.errorSamples.length ? ` (${r.errorSamples.join("; ")})` : ""
          }`,
        );
      } finally {
        await sys.stop();
      }
      await sleep(1000);
    }
  } finally {
    await backends?.stop();
  }
  for (const id of o.systems) {
    const runs = byId.get(id);
    if (runs) rows.push(medianRun(runs));
  }

  const idealReal = rows[1].summary.p99, idealZero = rows[0].summary.p99;
  const table = mdTable(
    [
      "system",
      "p50 ms",
      "p90 ms",
      "p99 ms",
      "p99.9 ms",
      "max ms",
      "p99 ÷ ideal (real service)",
      "p99 ÷ ideal (zero)",
      "ok",
      "failed",
      ...(rounds > 1 ? ["p99 of each round ms"] : []),
    ],
    rows.map((r) => [
      r.name,
      fx(r.summary.p50),
      fx(r.summary.p90),
      fx(r.summary.p99),
      fx(r.summary.p999),
      fx(r.summary.max),
      fx(r.summary.p99 / idealReal, 3),
      fx(r.summary.p99 / idealZero, 3),
      r.simulated ? "—" : int(r.summary.n),
      r.simulated ? "—" : int(r.failed),
      ...(rounds > 1
        ? [r.roundP99s ? r.roundP99s.map((x) => fx(x)).join(", ") : "—"]
        : []),
    ]),
  );
  const live = rows.filter((r) => !r.simulated);
  const ownTable = mdTable(
    [
      "system",
      "mean job ms, as the app measured it in this run",
      "ideal p99 with these job times",
      "p99 ÷ that ideal",
      "slot dead time ms, mean / p50 / p90 (gaps)",
    ],
    live.map((r) => [
      r.name,
      [...(r.jobMeanMs ?? new Map<number, number>())].map(([k, v]) =>
        `${k} → ${v.toFixed(2)}`
      ).join(", "),
      fx(r.ownIdealP99 ?? NaN),
      fx(r.summary.p99 / (r.ownIdealP99 ?? NaN), 3),
      r.dead
        ? `${fx(r.dead.mean, 3)} / ${fx(r.dead.p50, 3)} / ${
          fx(r.dead.p90, 3)
        } (${int(r.dead.n)})`
        : "—",
    ]),
  );
  const lagP99 = Math.max(...live.map((r) => r.lag?.p99 ?? NaN));
  const lagMax = Math.max(...live.map((r) => r.lag?.max ?? NaN));
  const lagP50 = live.length
    ? percentile(sorted(live.map((r) => r.lag!.p50)), 50)
    : NaN;
  const cpu = Math.max(...live.map((r) => r.genCpuPct ?? NaN));
  const conns = Math.max(...live.map((r) => r.peakConns ?? 0));
  const queued = live.reduce((s, r) => s + (r.clientQueued ?? 0), 0);
  const mix = o.sizes.map((s) => `${Math.round(s.weight * 100)} % ${s.ms} ms`)
    .join(", ");
  const md = [
    `### Tail latency, jobs ${mix} (${o.label})`,
    "",
    `${o.servers} one-job-at-a-time workers; open-loop Poisson arrivals at ${
      Math.round(o.load * 100)
    } % of their nominal capacity ` +
    `(mean job ${meanJobMs(o.sizes)} ms, ${
      (o.load * o.servers / meanJobMs(o.sizes) * 1000).toFixed(1)
    } req/s) for ${
      o.durationMs / 1000
    } s, seed ${o.seed}: ${arrivals.length} requests, the identical sequence for every system. ` +
    `Latency from the scheduled send time to the last response byte. The job sleeps (\`setTimeout\`). ` +
    `Each system first serves ${
      WARMUP_JOBS.toLocaleString("en-US")
    } zero-length jobs (warm-up). ` +
    "pothead: 4 `worker.ts --workers 1` processes; HAProxy/nginx: 4 `Deno.serve` processes running the same " +
    "handler behind a mutex, so each runs one job at a time and queues the rest, as a busy one-job machine does.",
    "",
    rounds > 1
      ? `${
        (o.repeated ?? []).map((id) => SYSTEM_NAMES[id]).join(" and ")
      } ran ${rounds} rounds, alternating; their rows are the round with the median p99 (every round's p99 in the last column).`
      : "",
    "",
    table,
    "",
    "Each system against the ideal queue fed that run's own job durations (the app's `x-job-us`): " +
    "the ratio is the balancer's own cost, with the app's slowdown under that system taken out. " +
    "Slot dead time: how long a slot stayed idle after a job while a request was already waiting " +
    "(zero in the ideal queue; every request queued behind it pays it again).",
    "",
    ownTable,
    "",
    `Measured job durations (the app's real service time): ${calib}. The ideal queue with the measured service ` +
    `time pools ${SIM_REPLICAS} simulations of the same arrivals, each drawing every job's duration from these samples.`,
    live.length
      ? `Generator self-check: send lag p50 ${fx(lagP50, 2)} ms, worst p99 ${
        fx(lagP99, 2)
      } ms, worst max ${
        fx(lagMax, 1)
      } ms; peak ${conns} connections; ${queued} sends waited for a connection; generator CPU ≤ ${
        fx(cpu)
      } % of one core.`
      : "",
    `Machine: ${o.machineLine}`,
    "",
  ].join("\n");

  const short = (r: TailRow, i: number) =>
    r.simulated
      ? (i === 0
        ? "ideal FIFO, zero overhead"
        : "ideal FIFO, real service time")
      : r.name;
  // simulations dashed; nginx dotted (its round robin lies on HAProxy's);
  // pothead on top and thicker
  const series: Series[] = rows.map((r, i) => ({
    name: short(r, i),
    sortedMs: r.sortedMs,
    dashed: r.simulated,
    dash: r.simulated && i === 1
      ? "3 3"
      : r.name.startsWith("nginx")
      ? "2 2"
      : undefined,
    width: r.name === "pothead" ? 3 : 2,
    onTop: r.name === "pothead",
  }));

  const svg = latencyChart(series, {
    title: `pothead tail latency: ${mix}, ${
      Math.round(o.load * 100)
    } % load, ${o.servers} one-job workers`,
    subtitle: o.machineLine,
  });
  return { markdown: md, svg, rows };
}
