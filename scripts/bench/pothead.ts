/**
 * pothead under test: `hub.ts` plus `n` one-slot `worker.ts` processes running
 * `job_app.ts` (command lines exactly as in DESIGN.md).
 *
 * @module
 */

import { HUB_V8_FLAGS } from "../compile.ts";
import type { Balancer } from "./haproxy.ts";
import { HttpConnection, withTimeout } from "./http_client.ts";
import {
  freePort,
  logTail,
  type Proc,
  sleep,
  spawn,
  stop,
  waitForPort,
} from "./procs.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
export const HUB_TS = `${ROOT}hub.ts`;
export const WORKER_TS = `${ROOT}worker.ts`;
export const JOB_APP = new URL("./job_app.ts", import.meta.url).pathname;

let profileDir: string | undefined;

/**
 * Profile every hub and worker started from now on (`deno run --cpu-prof`);
 * profiles land in `dir/hub` and `dir/worker` when the processes exit.
 */
export function setProfileDir(dir: string | undefined): void {
  profileDir = dir;
}

function denoRun(kind: "hub" | "worker"): string[] {
  // The hub runs with the V8 flags it has everywhere (README, "Performance").
  const base = [
    Deno.execPath(),
    "run",
    "-A",
    ...(kind === "hub" ? HUB_V8_FLAGS : []),
  ];
  return profileDir
    ? [...base, "--cpu-prof", `--cpu-prof-dir=${profileDir}/${kind}`]
    : base;
}

/** True when hub.ts and worker.ts exist and `hub.ts --help` exits 0. */
export async function potheadAvailable(): Promise<boolean> {
  for (const f of [HUB_TS, WORKER_TS]) {
    try {
      Deno.statSync(f);
    } catch {
      return false;
    }
  }
  try {
    const out = await withTimeout(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", HUB_TS, "--help"],
        cwd: ROOT,
        stdout: "null",
        stderr: "null",
      }).output(),
      60_000,
      "hub --help",
    );
    return out.success;
  } catch {
    return false;
  }
}

/** A running hub with its workers. */
export interface Pothead extends Balancer {
  workerPort: number;
  metricsPort: number;
  hub: Proc;
  workers: Proc[];
  /** Starts `n` more one-slot workers. */
  addWorkers(n: number): Proc[];
}

/** One GET on a fresh connection; status and body text, or null on error. */
export async function httpGet(
  port: number,
  path: string,
  timeoutMs = 3000,
): Promise<{ status: number; text: string } | null> {
  let c: HttpConnection | undefined;
  try {
    c = await HttpConnection.open("127.0.0.1", port);
    const r = await withTimeout(
      c.request({ path, keepBody: true }),
      timeoutMs,
      path,
    );
    return { status: r.status, text: new TextDecoder().decode(r.body) };
  } catch {
    return null;
  } finally {
    c?.close();
  }
}

/** Sum of `pothead_hub_workers{…state="idle"…}` and whether the metric exists. */
export async function idleWorkers(metricsPort: number): Promise<number | null> {
  const r = await httpGet(metricsPort, "/metrics");
  if (!r || r.status !== 200) return null;
  let sum = 0, seen = false;
  for (const line of r.text.split("\n")) {
    if (
      line.startsWith("pothead_hub_workers{") && line.includes('state="idle"')
    ) {
      seen = true;
      sum += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
    }
  }
  return seen ? sum : null;
}

/** Starts the hub (waits for /readyz) and `workers` one-slot workers (waits until connected). */
export async function startPothead(
  workers: number,
  opts: { maxQueue?: number; queueTimeout?: string; nofile?: number } = {},
): Promise<Pothead> {
  const port = freePort(), workerPort = freePort(), metricsPort = freePort();
  const hub = spawn("pothead-hub", [
    ...denoRun("hub"),
    HUB_TS,
    "--listen",
    `127.0.0.1:${port}`,
    "--worker-listen",
    `127.0.0.1:${workerPort}`,
    "--metrics-listen",
    `127.0.0.1:${metricsPort}`,
    "--max-queue",
    String(opts.maxQueue ?? 20000),
    "--queue-timeout",
    opts.queueTimeout ?? "60s",
    // profiling: exit soon after SIGTERM so the profile gets written
    ...(profileDir ? ["--drain-timeout", "1s"] : []),
  ], { nofile: opts.nofile ?? 65536 });
  const workerProcs: Proc[] = [];
  const addWorkers = (n: number) => {
    const added: Proc[] = [];
    for (let i = 0; i < n; i++) {
      const p = spawn(`pothead-worker-${workerProcs.length}`, [
        ...denoRun("worker"),
        WORKER_TS,
        "--connect",
        `127.0.0.1:${workerPort}`,
        "--workers",
        "1",
        JOB_APP,
      ], { env: { PROMETHEUS_PORT: "0" } });
      workerProcs.push(p);
      added.push(p);
    }
    return added;
  };
  const grace = profileDir ? 15_000 : 2000;
  const stopAllOf = async () => {
    await Promise.all(workerProcs.map((p) => stop(p, grace)));
    await stop(hub, grace);
  };
  try {
    await waitForPort(metricsPort, 30_000, hub);
    let ready = false;
    for (let i = 0; i < 300 && !ready; i++) {
      if (hub.exited) throw new Error(`hub exited: ${logTail(hub)}`);
      ready = (await httpGet(metricsPort, "/readyz"))?.status === 200;
      if (!ready) await sleep(100);
    }
    if (!ready) throw new Error(`hub not ready: ${logTail(hub)}`);
    await waitForPort(port, 10_000, hub);
    addWorkers(workers);
    await waitForWorkers(metricsPort, port, workers, workerProcs);
  } catch (e) {
    await stopAllOf();
    throw e;
  }
  return {
    name: "pothead",
    port,
    workerPort,
    metricsPort,
    hub,
    proc: hub,
    workers: workerProcs,
    addWorkers,
    pids: () => [hub.pid],
    stop: stopAllOf,
  };
}

/** Waits (≤ 30 s) until `n` workers are idle at the hub (metrics), else until hello works. */
export async function waitForWorkers(
  metricsPort: number,
  port: number,
  n: number,
  procs: Proc[],
): Promise<void> {
  const until = performance.now() + 30_000;
  let metricSeen = false;
  while (performance.now() < until) {
    const dead = procs.find((p) => p.exited);
    if (dead) throw new Error(`${dead.name} exited: ${logTail(dead)}`);
    const idle = await idleWorkers(metricsPort);
    if (idle !== null) metricSeen = true;
    if (idle !== null && idle >= n) return;
    if (!metricSeen && performance.now() > until - 25_000) {
      // no worker metric: fall back to n hello requests in parallel
      const rs = await Promise.all(
        Array.from({ length: n }, () => httpGet(port, "/hello", 10_000)),
      );
      if (rs.every((r) => r?.status === 200)) {
        await sleep(1000);
        return;
      }
    }
    await sleep(100);
  }
  throw new Error(`workers did not connect within 30 s`);
}
