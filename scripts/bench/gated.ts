/**
 * Scenario `gated` (issue 3, item 7): jobs of mixed CPU demand on one host,
 * served by one worker process at fixed `--workers 1`, `--workers 2`,
 * `--workers 4`, and by a gated worker (`--poll-jobs --gate-cpu 1`) that is
 * told nothing about the host; all in one run, throughput and p99 side by
 * side. The gated worker should match the best fixed setting without being
 * told it.
 *
 * The app (`cpu_job_app.ts`) does a fixed amount of integer work on a thread
 * of its own per job, after an optional wait with the CPU idle (a stand-in
 * for fetching the input), so concurrency beyond the idle CPUs makes jobs
 * slower and too little leaves cores idle. The mix:
 * {@linkcode JOB_MIX}.
 *
 * Two phases per configuration, each `durationMs` long:
 * - open loop: the same seeded Poisson arrival sequence for every
 *   configuration, at `load` × the host's nominal capacity (cores ÷ mean CPU
 *   time per job); latency p50/p99 from the scheduled send time;
 * - closed loop: `4 × cores + 4` clients back to back (enough to saturate
 *   any configuration): completed jobs per second, and the mean number of
 *   jobs the worker ran at once.
 *
 * The CPU gate measures the whole host (`/proc/stat`): anything else busy
 * on the machine (another benchmark, a build) makes it admit less, as it
 * should; the caption prints the load average at the start.
 *
 * Run alone: `deno run -A scripts/bench/gated.ts [--duration 20s] [--load 0.6]`.
 * Gate settings other than the `--gate-cpu` defaults can be tried with a
 * configuration whose `env` sets `CPU_JOB_GATE` (see `cpu_job_app.ts`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseDuration } from "../../lib/cli/units.ts";
import { spin } from "./cpu_job_app.ts";
import { HttpConnection, withTimeout } from "./http_client.ts";
import { runOpenLoop } from "./load_generator.ts";
import { machine, machineLine } from "./machine.ts";
import { httpGet, HUB_TS, idleWorkers, WORKER_TS } from "./pothead.ts";
import { exponential, mulberry32, pickSize } from "./prng.ts";
import {
  freePort,
  killAllNow,
  logTail,
  type Proc,
  setLogDir,
  sleep,
  spawn,
  stop,
  stopAll,
  waitForPort,
} from "./procs.ts";
import { summarize, type Summary } from "./stats.ts";
import { fx, mdTable } from "./table.ts";

const CPU_JOB_APP = new URL("./cpu_job_app.ts", import.meta.url).pathname;

/** One kind of job of the mix. */
export interface JobKind {
  /** Its name in logs. */
  name: string;
  /** Wait with the CPU idle first (input download), ms. */
  waitMs: number;
  /** CPU work, ms on one core of this machine (calibrated). */
  cpuMs: number;
  /** Share of the mix. */
  weight: number;
}

/** The mix: CPU-heavy, mostly waiting, and in between. */
export const JOB_MIX: readonly JobKind[] = [
  { name: "cpu", waitMs: 0, cpuMs: 200, weight: 0.4 },
  { name: "io", waitMs: 300, cpuMs: 20, weight: 0.4 },
  { name: "half", waitMs: 100, cpuMs: 100, weight: 0.2 },
];

/** A worker configuration under test. */
export interface GatedConfig {
  /** Its row name. */
  name: string;
  /** Worker flags before the app. */
  args: string[];
  /** Extra environment of the worker. @default {{}} */
  env?: Record<string, string>;
}

/**
 * The configurations: fixed slots; `--poll-jobs` capped at 4, which pulls
 * one connection per job like the gate but admits like `--workers 4` (the
 * cost of pulling, apart from the gate's decisions); then the gate that is
 * told nothing.
 */
export const GATED_CONFIGS: readonly GatedConfig[] = [
  { name: "--workers 1", args: ["--workers", "1"] },
  { name: "--workers 2", args: ["--workers", "2"] },
  { name: "--workers 4", args: ["--workers", "4"] },
  {
    name: "--poll-jobs --max-concurrent 4",
    args: ["--poll-jobs", "--max-concurrent", "4"],
  },
  {
    name: "--poll-jobs --gate-cpu 1",
    args: ["--poll-jobs", "--gate-cpu", "1"],
  },
];

/** Options of {@linkcode runGated}. */
export interface GatedOptions {
  /** Length of each phase per configuration, ms. */
  durationMs: number;
  /** Open-loop load as a fraction of the host's nominal capacity. */
  load: number;
  /** Arrival sequence seed. */
  seed: number;
  /** For the table's caption. */
  machineLine: string;
  /** Progress lines. */
  log: (s: string) => void;
  /** Cores. @default {navigator.hardwareConcurrency} */
  cores?: number;
  /** Configurations. @default {GATED_CONFIGS} */
  configs?: readonly GatedConfig[];
}

/** One configuration's figures. */
export interface GatedRow {
  /** Configuration. */
  name: string;
  /** Open loop: latency of completed jobs, ms. */
  open: Summary;
  /** Open loop: failed or timed-out jobs. */
  openFailed: number;
  /** Closed loop: completed jobs per second. */
  throughput: number;
  /** Closed loop: latency, ms. */
  closed: Summary;
  /** Closed loop: failed jobs. */
  closedFailed: number;
  /** Closed loop: mean of the jobs running at each job's start. */
  meanRunning: number;
}

/** The scenario's result. */
export interface GatedResult {
  /** The table with its caption. */
  markdown: string;
  /** The figures. */
  rows: GatedRow[];
  /** Spin iterations per ms of one core, as calibrated. */
  itersPerMs: number;
  /** Open-loop arrivals per second. */
  ratePerSec: number;
}

/** Iterations of {@linkcode spin} per ms on one core (best of a few tries). */
function calibrate(): number {
  let best = 0;
  for (let i = 0; i < 5; i++) {
    const n = 5_000_000;
    const t0 = performance.now();
    spin(n);
    best = Math.max(best, n / Math.max(0.01, performance.now() - t0));
  }
  return best;
}

const meanOf = (pick: (k: JobKind) => number) =>
  JOB_MIX.reduce((s, k) => s + pick(k) * k.weight, 0) /
  JOB_MIX.reduce((s, k) => s + k.weight, 0);

interface Running {
  hub: Proc;
  worker: Proc;
  port: number;
  stop(): Promise<void>;
}

async function startConfig(config: GatedConfig): Promise<Running> {
  const port = freePort(), workerPort = freePort(), metricsPort = freePort();
  const hub = spawn("gated-hub", [
    Deno.execPath(),
    "run",
    "-A",
    HUB_TS,
    "--listen",
    `127.0.0.1:${port}`,
    "--worker-listen",
    `127.0.0.1:${workerPort}`,
    "--metrics-listen",
    `127.0.0.1:${metricsPort}`,
    "--max-queue",
    "20000",
    "--queue-timeout",
    "120s",
  ]);
  const worker = spawn(
    `gated-worker ${config.name}`,
    [
      Deno.execPath(),
      "run",
      "-A",
      WORKER_TS,
      "--connect",
      `127.0.0.1:${workerPort}`,
      ...config.args,
      CPU_JOB_APP,
    ],
    { env: { PROMETHEUS_PORT: "0", ...config.env } },
  );
  const stopBoth = async () => {
    await stop(worker, 5000);
    await stop(hub, 2000);
  };
  try {
    await waitForPort(metricsPort, 30_000, hub);
    await waitForPort(port, 10_000, hub);
    const end = performance.now() + 30_000;
    for (;;) {
      if (worker.exited) throw new Error(`worker exited: ${logTail(worker)}`);
      if (((await idleWorkers(metricsPort)) ?? 0) >= 1) break;
      if (performance.now() > end) throw new Error("worker did not connect");
      await sleep(100);
    }
    return { hub, worker, port, stop: stopBoth };
  } catch (e) {
    await stopBoth();
    throw e;
  }
}

/** `clients` back-to-back loops for `ms`. */
async function closedLoop(
  port: number,
  clients: number,
  ms: number,
  pathOf: (i: number) => string,
) {
  const latencies: number[] = [];
  const running: number[] = [];
  let failed = 0;
  let seq = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  let last = t0;
  await Promise.all(Array.from({ length: clients }, async () => {
    let c: HttpConnection | null = null;
    while (performance.now() < end) {
      const start = performance.now();
      try {
        c ??= await HttpConnection.open("127.0.0.1", port);
        const r = await withTimeout(
          c.request({ path: pathOf(seq++) }),
          120_000,
          "closed-loop job",
        );
        if (!c.reusable) {
          c.close();
          c = null;
        }
        if (r.status !== 200) {
          failed++;
          continue;
        }
        const now = performance.now();
        last = Math.max(last, now);
        latencies.push(now - start);
        running.push(Number(r.headers.get("x-running") ?? "NaN"));
      } catch {
        failed++;
        c?.close();
        c = null;
      }
    }
    c?.close();
  }));
  // Jobs completed per second of the time it took to complete them.
  const throughput = latencies.length / ((last - t0) / 1000);
  const finite = running.filter(Number.isFinite);
  return {
    throughput,
    closed: summarize(latencies),
    failed,
    meanRunning: finite.reduce((a, b) => a + b, 0) / (finite.length || 1),
  };
}

/**
 * Runs the scenario.
 * @param o duration, load, seed
 * @returns the table and the figures
 */
export async function runGated(o: GatedOptions): Promise<GatedResult> {
  const cores = o.cores ?? navigator.hardwareConcurrency;
  const itersPerMs = calibrate();
  const pathOf = (kind: JobKind) =>
    `/job?wait_ms=${kind.waitMs}&iters=${Math.round(kind.cpuMs * itersPerMs)}`;
  const capacity = cores * 1000 / meanOf((k) => k.cpuMs);
  const ratePerSec = o.load * capacity;
  const random = mulberry32(o.seed);
  const sizes = JOB_MIX.map((k, i) => ({ ms: i, weight: k.weight }));
  const arrivals: { atMs: number; jobMs: number }[] = [];
  for (let t = exponential(random, ratePerSec / 1000); t < o.durationMs;) {
    arrivals.push({ atMs: t, jobMs: pickSize(sizes, random()) });
    t += exponential(random, ratePerSec / 1000);
  }
  o.log(
    `gated: ${cores} cores, ${Math.round(itersPerMs)} iterations/ms; mean CPU ${
      fx(meanOf((k) => k.cpuMs))
    } ms/job → nominal capacity ${fx(capacity)} jobs/s; open loop ${
      fx(ratePerSec)
    } jobs/s (${arrivals.length} arrivals)`,
  );
  const clients = 4 * cores + 4;
  let mixSeq = mulberry32(o.seed ^ 0x9a7ed);
  const rows: GatedRow[] = [];
  for (const config of o.configs ?? GATED_CONFIGS) {
    o.log(`  ${config.name} …`);
    const sys = await startConfig(config);
    try {
      // Warm-up: a few of each kind, so threads exist and code is hot.
      await Promise.all(
        JOB_MIX.flatMap((k) =>
          Array.from({ length: 2 }, () => httpGet(sys.port, pathOf(k), 30_000))
        ),
      );
      const open = await runOpenLoop({
        host: "127.0.0.1",
        port: sys.port,
        arrivals,
        path: (a) => pathOf(JOB_MIX[a.jobMs]),
        timeoutMs: 180_000,
      });
      const openLat = [...open.latencyMs].filter((x) => !isNaN(x));
      await sleep(500);
      mixSeq = mulberry32(o.seed ^ 0x9a7ed);
      const kinds = JOB_MIX.map((k, i) => ({ ms: i, weight: k.weight }));
      const closed = await closedLoop(
        sys.port,
        clients,
        o.durationMs,
        () => pathOf(JOB_MIX[pickSize(kinds, mixSeq())]),
      );
      const row: GatedRow = {
        name: config.name,
        open: summarize(openLat),
        openFailed: open.failed,
        throughput: closed.throughput,
        closed: closed.closed,
        closedFailed: closed.failed,
        meanRunning: closed.meanRunning,
      };
      rows.push(row);
      o.log(
        `    open p50 ${fx(row.open.p50)} p99 ${
          fx(row.open.p99)
        } ms (failed ${row.openFailed}); closed ${
          fx(row.throughput)
        } jobs/s, p99 ${fx(row.closed.p99)} ms, ~${
          fx(row.meanRunning)
        } at once`,
      );
    } finally {
      await sys.stop();
    }
    await sleep(1000);
  }

  const bestFixed = Math.max(
    ...rows.filter((r) => r.name.startsWith("--workers")).map((r) =>
      r.throughput
    ),
  );
  const table = mdTable(
    [
      "worker",
      "open loop p50 ms",
      "open loop p99 ms",
      "open loop failed",
      "closed loop jobs/s",
      "÷ best fixed",
      "closed loop p99 ms",
      "jobs at once (mean)",
    ],
    rows.map((r) => [
      `\`${r.name}\``,
      fx(r.open.p50),
      fx(r.open.p99),
      r.openFailed,
      fx(r.throughput, 2),
      fx(r.throughput / bestFixed, 2),
      fx(r.closed.p99),
      fx(r.meanRunning),
    ]),
  );
  const mix = JOB_MIX.map((k) =>
    `${
      Math.round(k.weight * 100)
    } % ${k.name} (wait ${k.waitMs} ms, CPU ${k.cpuMs} ms)`
  ).join(", ");
  const markdown = [
    `### Gated worker vs fixed slots (jobs of mixed CPU demand)`,
    "",
    `Machine: ${o.machineLine}`,
    "",
    `One worker process per row, the same app: ${mix}; the CPU work runs on a thread per job. ` +
    `Open loop: ${fx(ratePerSec)} jobs/s (${o.load} × nominal capacity ${
      fx(capacity)
    } jobs/s), seed ${o.seed}, ${o.durationMs / 1000} s. ` +
    `Closed loop: ${clients} clients, ${o.durationMs / 1000} s.`,
    "",
    table,
    "",
  ].join("\n");
  return { markdown, rows, itersPerMs, ratePerSec };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      duration: { type: "string", default: "20s" },
      load: { type: "string", default: "0.6" },
      seed: { type: "string", default: "1" },
      out: { type: "string", default: "bench-results" },
    },
  });
  Deno.mkdirSync(values.out, { recursive: true });
  setLogDir(`${values.out}/logs-gated`);
  globalThis.addEventListener("unload", killAllNow);
  Deno.addSignalListener("SIGINT", async () => {
    await stopAll(1500);
    Deno.exit(130);
  });
  let code = 0;
  try {
    const r = await runGated({
      durationMs: parseDuration(values.duration),
      load: Number(values.load),
      seed: Number(values.seed),
      machineLine: machineLine(machine()),
      log: (s) => console.error(s),
    });
    Deno.writeTextFileSync(`${values.out}/gated.md`, r.markdown);
    console.log(r.markdown);
  } catch (e) {
    console.error(`gated: failed: ${(e as Error).stack ?? e}`);
    code = 1;
  } finally {
    await stopAll(2000);
  }
  Deno.exit(code);
}
