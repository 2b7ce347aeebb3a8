/**
 * `deno run -A scripts/soak.ts [--duration 10m]`: a bounded soak test on
 * loopback (issue 5, item 6). A hub, worker processes serving
 * `tests/fixtures/recording_app.ts`, and consumers sending a mixed load
 * (quick and slow jobs, small and large uploads, large and dripping
 * downloads). Meanwhile workers are killed (SIGKILL, or SIGTERM for a
 * drain) and restarted at random, and the hub is restarted once (SIGTERM,
 * drain, a new hub on the same ports).
 *
 * At the end it prints requests sent, answered by status, errors by kind,
 * and lost: requests the hub took and never answered, or answered with a
 * body that did not end within the request's bound. Lost must be 0, as must
 * bodies that differ from what the app sent, statuses outside DESIGN.md's
 * table, and jobs run twice beyond the re-dispatch rule; the exit status is
 * 1 otherwise.
 *
 * ```sh
 * deno run -A scripts/soak.ts                    # 10 minutes
 * deno run -A scripts/soak.ts --duration 20s --json
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { formatDuration, parseDuration } from "../lib/cli/units.ts";
import {
  nextRequest,
  type Outcome,
  redispatchBreaches,
  rng,
  rssOf,
  runsById,
  send,
  tally,
} from "../tests/mixed_load.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const APP = `${REPO}tests/fixtures/recording_app.ts`;
const HOST = "127.0.0.1";

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** How long load runs, ms. @default {600000} */
  durationMs?: number;
  /** Worker processes. @default {3} */
  workers?: number;
  /** Slots per worker process. @default {2} */
  slots?: number;
  /** Concurrent consumers. @default {16} */
  concurrency?: number;
  /** Seed of the load and of the kills. @default {1} */
  seed?: number;
  /** Mean time between worker kills, ms. @default {4000} */
  killEveryMs?: number;
  /** Progress lines on stderr. @default {true} */
  progress?: boolean;
  /** Keep the logs (they are kept anyway when something failed). @default {false} */
  keepLogs?: boolean;
}

/** What a soak run came to. */
export interface SoakReport {
  /** Load duration, ms. */
  durationMs: number;
  /** Requests sent. */
  sent: number;
  /** Answered by HTTP status. */
  answeredByStatus: Record<string, number>;
  /** Errors by kind (`hub-error:<code>`, `aborted-body`, `refused`, `not-delivered`). */
  errorsByKind: Record<string, number>;
  /** Requests the hub took and never answered within their bound. */
  lost: number;
  /** Samples of connection errors on requests the hub never read. */
  notDelivered: string[];
  /** Bodies not what the app sent, statuses outside the contract. */
  violations: string[];
  /** Jobs run twice beyond the re-dispatch rule. */
  breaches: string[];
  /** Jobs run twice after a re-dispatch the rule allowed. */
  ranTwice: number;
  /** Requests the hub logged other than once. */
  logMismatches: number;
  /** Worker processes killed (SIGKILL / SIGTERM). */
  kills: { sigkill: number; sigterm: number };
  /** Hub restarts. */
  hubRestarts: number;
  /** Hub resident memory, bytes: first sample, largest, last. */
  hubRss: { start: number; max: number; end: number };
}

interface Child {
  proc: Deno.ChildProcess;
  log: string;
  status: Promise<Deno.CommandStatus>;
  exited: boolean;
}

function spawn(
  module: string,
  args: string[],
  log: string,
  env: Record<string, string> = {},
): Child {
  const file = Deno.openSync(log, { create: true, append: true });
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", module, ...args],
    cwd: REPO,
    env: { PROMETHEUS_PORT: "0", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const child: Child = {
    proc,
    log,
    status: Promise.resolve({ success: false, code: 1, signal: null }),
    exited: false,
  };
  const pump = proc.stderr.pipeTo(file.writable).catch(() => {});
  child.status = proc.status.then(async (s) => {
    child.exited = true;
    await pump;
    return s;
  });
  return child;
}

function kill(child: Child, signal: Deno.Signal): void {
  if (child.exited) return;
  try {
    child.proc.kill(signal);
  } catch { /* gone */ }
}

async function stop(child: Child, graceMs: number): Promise<void> {
  kill(child, "SIGTERM");
  const timer = setTimeout(() => kill(child, "SIGKILL"), graceMs);
  await child.status;
  clearTimeout(timer);
}

function freePort(): number {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  pred: () => Promise<boolean>,
  ms: number,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred().catch(() => false)) return true;
    await sleep(50);
  }
  return false;
}

/**
 * Runs the soak.
 * @param options duration, processes, load
 * @returns the report
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const durationMs = options.durationMs ?? 600_000;
  const workerCount = options.workers ?? 3;
  const slots = options.slots ?? 2;
  const concurrency = options.concurrency ?? 16;
  const seed = options.seed ?? 1;
  const killEvery = options.killEveryMs ?? 4000;
  const say = (msg: string) => {
    if (options.progress ?? true) console.error(`[soak] ${msg}`);
  };
  const dir = await Deno.makeTempDir({ prefix: "pothead-soak-" });
  const ports = {
    consumer: freePort(),
    worker: freePort(),
    metrics: freePort(),
  };
  const url = `http://${HOST}:${ports.consumer}`;
  const metricsUrl = `http://${HOST}:${ports.metrics}`;
  const hubArgs = [
    "--log-format",
    "json",
    "--listen",
    `${HOST}:${ports.consumer}`,
    "--worker-listen",
    `${HOST}:${ports.worker}`,
    "--metrics-listen",
    `${HOST}:${ports.metrics}`,
    "--queue-timeout",
    "10s",
    "--response-timeout",
    "10s",
    "--body-idle-timeout",
    "5s",
    "--drain-timeout",
    "10s",
  ];
  const hubLogs: string[] = [];
  const all: Child[] = [];
  const startHub = async () => {
    const log = `${dir}/hub-${hubLogs.length}.log`;
    hubLogs.push(log);
    const hub = spawn(`${REPO}hub.ts`, hubArgs, log);
    all.push(hub);
    const up = await until(
      async () => (await fetch(`${metricsUrl}/healthz`)).ok,
      60_000,
    );
    if (!up) throw new Error(`the hub did not start; see ${log}`);
    return hub;
  };

  const records: string[] = [];
  const workers: (Child | null)[] = [];
  const startWorker = (i: number) => {
    const record = `${dir}/ran-${i}`;
    if (!records.includes(record)) records.push(record);
    workers[i] = spawn(
      `${REPO}worker.ts`,
      [
        "--log-format",
        "json",
        "--connect",
        `${HOST}:${ports.worker}`,
        "--workers",
        String(slots),
        APP,
      ],
      `${dir}/worker-${i}.log`,
      { POTHEAD_TEST_RECORD: record },
    );
    all.push(workers[i]!);
  };

  // Children never outlive the soak, even when it is interrupted.
  const onSignal = () => {
    for (const c of all) kill(c, "SIGKILL");
    Deno.exit(130);
  };
  for (const s of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(s, onSignal);
  }
  let hub = await startHub();
  const hubPids = [hub.proc.pid];
  for (let i = 0; i < workerCount; i++) startWorker(i);
  await until(async () => {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    return /pothead_hub_workers\{pool="default",state="idle"\} [1-9]/.test(
      text,
    );
  }, 60_000);
  say(
    `hub ${url}, ${workerCount} worker processes × ${slots} slots, ${concurrency} consumers, ${
      formatDuration(durationMs)
    }, seed ${seed}`,
  );

  const rss = { start: rssOf(hub.proc.pid) ?? 0, max: 0, end: 0 };
  const sampleRss = () => {
    const r = rssOf(hub.proc.pid);
    if (r !== null) {
      rss.max = Math.max(rss.max, r);
      rss.end = r;
    }
  };

  const started = Date.now();
  const endAt = started + durationMs;
  const outcomes: Outcome[] = [];
  const random = rng(seed);
  const chaos = rng(seed + 1000);
  const kills = { sigkill: 0, sigterm: 0 };
  let hubRestarts = 0;
  let n = 0;
  // queue timeout, two response timeouts (a re-dispatch), body stalls the
  // body idle timeout bounds, a drain, and slack for a busy machine.
  const boundMs = 10_000 + 2 * 10_000 + 10_000 + 10_000 + 20_000;

  const consumers = Array.from({ length: concurrency }, async () => {
    while (Date.now() < endAt) {
      const spec = nextRequest(`soak${seed}`, n++, random);
      const o = await send(url, spec, boundMs);
      // Keep what the checks need, not the request body.
      outcomes.push({ ...o, spec: { ...spec, body: null } });
      // Back off as a client would (Retry-After) when the hub is away or
      // draining, instead of spinning.
      if (
        o.kind === "refused" || o.kind === "lost" || o.error === "draining"
      ) await sleep(200);
    }
  });

  // Kill and restart workers at random; restart the hub once, half-way.
  const chaosLoop = (async () => {
    let hubRestarted = false;
    const restartAt = started + durationMs / 2;
    const nextKill = () => Date.now() + killEvery / 2 + chaos() * killEvery;
    let killAt = nextKill();
    while (Date.now() < endAt) {
      const wakeAt = Math.min(endAt, killAt, hubRestarted ? endAt : restartAt);
      await sleep(Math.max(0, wakeAt - Date.now()));
      if (Date.now() >= endAt) break;
      sampleRss();
      if (!hubRestarted && Date.now() >= restartAt) {
        hubRestarted = true;
        say("restarting the hub (SIGTERM, drain, new process)");
        await stop(hub, 20_000);
        hub = await startHub();
        hubPids.push(hub.proc.pid);
        hubRestarts++;
        say("hub back");
        continue;
      }
      if (Date.now() < killAt) continue;
      killAt = nextKill();
      const i = Math.floor(chaos() * workerCount);
      const w = workers[i];
      if (!w || w.exited) continue;
      const hard = chaos() < 0.7;
      if (hard) kills.sigkill++;
      else kills.sigterm++;
      kill(w, hard ? "SIGKILL" : "SIGTERM");
      const restartIn = 300 + chaos() * 2500;
      (async () => {
        const t = setTimeout(() => kill(w, "SIGKILL"), 15_000);
        await w.status;
        clearTimeout(t);
        await sleep(restartIn);
        if (Date.now() < endAt + 5_000) startWorker(i);
      })();
    }
  })();

  const progress = setInterval(() => {
    sampleRss();
    const t = tally(outcomes);
    say(
      `${Math.round((Date.now() - started) / 1000)} s: sent ${t.sent}, ok ${
        t.byKind.ok ?? 0
      }, violations ${t.violations.length}, hub rss ${
        Math.round(rss.end / 1048576)
      } MiB`,
    );
  }, 30_000);
  await Promise.all(consumers);
  await chaosLoop;
  clearInterval(progress);
  sampleRss();

  // Stop everything; the logs are complete once the processes are gone.
  for (const w of workers) if (w) await stop(w, 15_000);
  await stop(hub, 20_000);
  for (const s of ["SIGINT", "SIGTERM"] as const) {
    Deno.removeSignalListener(s, onSignal);
  }

  const t = tally(outcomes);
  const logged = new Map<string, number>();
  const redispatched = new Set<string>();
  for (const log of hubLogs) {
    for (const line of Deno.readTextFileSync(log).split("\n")) {
      let m = /"msg":"request","id":"([^"]+)"/.exec(line);
      if (m) logged.set(m[1], (logged.get(m[1]) ?? 0) + 1);
      m = /"msg":"request redispatched","id":"([^"]+)"/.exec(line);
      if (m) redispatched.add(m[1]);
    }
  }
  const runs = runsById(records);
  // A connection error after sending is lost only when the hub took the
  // request (logged it) or a worker ran it; otherwise the hub never read it
  // (a kept-alive connection closed by a draining hub as the request went).
  let lost = 0;
  const errorsByKind: Record<string, number> = {};
  const answeredByStatus: Record<string, number> = {};
  const violations: string[] = [];
  let logMismatches = 0;
  const notDelivered: string[] = [];
  for (const o of outcomes) {
    let kind = o.kind === "ok"
      ? "ok"
      : o.error
      ? `${o.kind}:${o.error}`
      : o.kind;
    if (o.kind === "lost") {
      const taken = logged.has(o.spec.id) || runs.has(o.spec.id);
      if (taken || o.error === "timeout" || o.error === "timeout in body") {
        lost++;
        violations.push(`lost: ${o.spec.id} ${o.error}`);
      } else {
        kind = "not-delivered";
        notDelivered.push(`${o.spec.id} ${o.error}`);
      }
    }
    if (o.kind === "refused") kind = "refused";
    if (o.status !== 0) {
      answeredByStatus[o.status] = (answeredByStatus[o.status] ?? 0) + 1;
      if (logged.get(o.spec.id) !== 1) logMismatches++;
    }
    if (kind !== "ok") errorsByKind[kind] = (errorsByKind[kind] ?? 0) + 1;
    if (o.kind === "bad-body" || o.kind === "unexpected") {
      violations.push(`${o.kind}: ${o.spec.id} ${o.status} ${o.error}`);
    }
  }
  const breaches = redispatchBreaches(outcomes, runs, redispatched);
  let ranTwice = 0;
  for (const o of outcomes) if ((runs.get(o.spec.id) ?? 0) === 2) ranTwice++;
  if (violations.length > 0 || breaches.length > 0 || options.keepLogs) {
    say(`logs kept in ${dir}`);
  } else {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return {
    notDelivered: notDelivered.slice(0, 20),
    durationMs,
    sent: t.sent,
    answeredByStatus,
    errorsByKind,
    lost,
    violations,
    breaches,
    ranTwice,
    logMismatches,
    kills,
    hubRestarts,
    hubRss: rss,
  };
}

/**
 * Formats a report for people.
 * @param r the report
 * @returns lines of text
 */
export function formatReport(r: SoakReport): string {
  const list = (o: Record<string, number>) =>
    Object.entries(o).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) =>
      `${k}: ${v}`
    ).join(", ") || "none";
  const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
  return [
    `duration: ${formatDuration(r.durationMs)}`,
    `worker kills: ${r.kills.sigkill} SIGKILL, ${r.kills.sigterm} SIGTERM; hub restarts: ${r.hubRestarts}`,
    `sent: ${r.sent}`,
    `answered by status: ${list(r.answeredByStatus)}`,
    `errors by kind: ${list(r.errorsByKind)}`,
    `lost: ${r.lost}`,
    `bad bodies / statuses outside the contract: ${
      r.violations.length - r.lost
    }`,
    `ran twice (re-dispatch allowed): ${r.ranTwice}; beyond the rule: ${r.breaches.length}`,
    `answered requests not logged exactly once by the hub: ${r.logMismatches}`,
    `hub rss: start ${mib(r.hubRss.start)}, max ${mib(r.hubRss.max)}, end ${
      mib(r.hubRss.end)
    }`,
    ...r.violations.slice(0, 20).map((v) => `  ${v}`),
    ...r.breaches.slice(0, 20).map((b) => `  ${b}`),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      duration: { type: "string", default: "10m" },
      workers: { type: "string", default: "3" },
      slots: { type: "string", default: "2" },
      concurrency: { type: "string", default: "16" },
      seed: { type: "string", default: "1" },
      "kill-every": { type: "string", default: "4s" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno run -A scripts/soak.ts [--duration 10m] [--workers 3] [--slots 2] [--concurrency 16] [--seed 1] [--kill-every 4s] [--json]",
    );
    Deno.exit(0);
  }
  const report = await runSoak({
    durationMs: parseDuration(values.duration),
    workers: Number(values.workers),
    slots: Number(values.slots),
    concurrency: Number(values.concurrency),
    seed: Number(values.seed),
    killEveryMs: parseDuration(values["kill-every"]),
  });
  console.log(values.json ? JSON.stringify(report) : formatReport(report));
  const ok = report.lost === 0 && report.violations.length === 0 &&
    report.breaches.length === 0 && report.logMismatches === 0;
  Deno.exit(ok ? 0 : 1);
}
