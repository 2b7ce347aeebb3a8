/**
 * The open-loop load generator: sends each request of a precomputed arrival
 * sequence at its scheduled time, whatever the system does, over keep-alive
 * connections from a pool that grows whenever every connection is busy (so
 * the client never queues). Latency is measured from the *scheduled* send
 * time, so a late send (timer lag, a slow system) is counted, never omitted.
 *
 * It also measures itself: send lag (actual − scheduled), peak connections,
 * CPU used, so one can tell the generator was not the bottleneck.
 *
 * @module
 */

import type { JobTimes } from "./dead_time.ts";
import type { Arrival } from "./prng.ts";
import { HttpConnection, withTimeout } from "./http_client.ts";
import { procCpuSeconds } from "./procs.ts";

/** Options of one open-loop run. */
export interface OpenLoopOptions {
  host: string;
  port: number;
  arrivals: readonly Arrival[];
  /** Request path for an arrival. */
  path: (a: Arrival) => string;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
  /** Upper bound on open connections (a safety cap; reaching it is reported). */
  maxConns?: number;
  /** Connections opened before the first send. */
  prewarm?: number;
}

/** What one run measured. */
export interface OpenLoopResult {
  /** Latency (ms) per arrival, scheduled time → last response byte; NaN when failed. */
  latencyMs: Float64Array;
  /** Status per arrival (0 = transport error or timeout). */
  status: Uint16Array;
  ok: number;
  failed: number;
  /** A few failure messages. */
  errorSamples: string[];
  /** Actual − scheduled send time (ms), per arrival. */
  sendLagMs: Float64Array;
  /**
   * The app's own measure of its job (`x-job-us`, in ms) per arrival; NaN
   * when the response did not carry it.
   */
  jobMs: Float64Array;
  /**
   * Per arrival, when it was sent and when its job started and ended at the
   * app (`x-job-start`, `x-job-end`: Unix ms with fractions), and which
   * process ran it (`x-job-pid`); NaN / 0 when the response did not say.
   */
  jobTimes: JobTimes;
  peakConns: number;
  openedConns: number;
  /** Times a send waited for a connection because maxConns was reached. */
  clientQueued: number;
  /** Generator CPU seconds over the run, and the run's wall time. */
  cpuSec: number;
  wallMs: number;
}

class Pool {
  idle: HttpConnection[] = [];
  open = 0;
  peak = 0;
  opened = 0;
  queued = 0;
  #waiters: ((c: HttpConnection | null) => void)[] = [];

  constructor(
    readonly host: string,
    readonly port: number,
    readonly max: number,
  ) {}

  async acquire(): Promise<HttpConnection> {
    for (let guard = 0; guard < 1000; guard++) {
      const c = this.idle.pop();
      if (c) {
        if (!c.closed) return c;
        continue;
      }
      if (this.open < this.max) {
        this.open++;
        this.opened++;
        this.peak = Math.max(this.peak, this.open);
        try {
          return await HttpConnection.open(this.host, this.port);
        } catch (e) {
          this.open--;
          throw e;
        }
      }
      this.queued++;
      const got = await new Promise<HttpConnection | null>((r) =>
        this.#waiters.push(r)
      );
      if (got) return got;
    }
    throw new Error("pool: could not get a connection");
  }

  release(c: HttpConnection): void {
    if (!c.reusable || c.closed) {
      c.close();
      this.open--;
      const w = this.#waiters.shift();
      if (w) w(null); // may open a new one now
      return;
    }
    const w = this.#waiters.shift();
    if (w) w(c);
    else this.idle.push(c);
  }

  discard(c: HttpConnection): void {
    c.reusable = false;
    this.release(c);
  }

  closeAll(): void {
    for (const c of this.idle) c.close();
    this.idle = [];
    for (const w of this.#waiters.splice(0)) w(null);
  }
}

/**
 * The ticker: a Web Worker that sleeps with `Atomics.wait` (sub-millisecond,
 * unlike `setTimeout`, which overshoots by ~1 ms) until each scheduled time
 * and posts the arrival's index; the main thread then sends at once. Times
 * are absolute (`timeOrigin + now()`), since a worker has its own origin.
 */
const TICKER_SRC = `
self.onmessage = (e) => {
  const { times, t0 } = e.data;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < times.length; i++) {
    const target = t0 + times[i];
    for (let g = 0; g < 100000; g++) {
      const d = target - (performance.timeOrigin + performance.now());
      if (d <= 0) break;
      Atomics.wait(cell, 0, 0, Math.min(d, 1000));
    }
    postMessage(i);
  }
  postMessage(-1);
};`;

/** Calls `fire(i)` at each `t0Abs + times[i]` (absolute ms); resolves after the last. */
export function tick(
  times: Float64Array,
  t0Abs: number,
  fire: (i: number) => void,
): Promise<void> {
  const url = URL.createObjectURL(
    new Blob([TICKER_SRC], { type: "application/javascript" }),
  );
  const w = new Worker(url, { type: "module" });
  return new Promise<void>((resolve, reject) => {
    w.onmessage = (e: MessageEvent<number>) => {
      if (e.data < 0) {
        w.terminate();
        URL.revokeObjectURL(url);
        resolve();
      } else fire(e.data);
    };
    w.onerror = (e) => {
      w.terminate();
      URL.revokeObjectURL(url);
      reject(new Error(`ticker: ${e.message}`));
    };
    w.postMessage({ times, t0: t0Abs });
  });
}

/** Runs the arrival sequence against host:port. */
export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const n = o.arrivals.length;
  const timeoutMs = o.timeoutMs ?? 120_000;
  const pool = new Pool(o.host, o.port, o.maxConns ?? 5000);
  const latencyMs = new Float64Array(n).fill(NaN);
  const status = new Uint16Array(n);
  const sendLagMs = new Float64Array(n);
  const jobMs = new Float64Array(n).fill(NaN);
  const jobTimes = {
    sentAt: new Float64Array(n).fill(NaN),
    startAt: new Float64Array(n).fill(NaN),
    endAt: new Float64Array(n).fill(NaN),
    pid: new Uint32Array(n),
  };
  const errorSamples: string[] = [];
  let ok = 0, failed = 0;

  const warm: HttpConnection[] = [];
  for (let i = 0; i < (o.prewarm ?? 8); i++) {
    warm.push(await pool.acquire());
  }
  for (const c of warm) pool.release(c);

  const one = async (i: number, scheduled: number) => {
    const a = o.arrivals[i];
    let conn: HttpConnection | undefined;
    try {
      await withTimeout(
        (async () => {
          conn = await pool.acquire();
          jobTimes.sentAt[i] = performance.timeOrigin + performance.now();
          const r = await conn.request({ path: o.path(a) });
          status[i] = r.status;
          if (r.status === 200) {
            latencyMs[i] = performance.now() - scheduled;
            const us = r.headers.get("x-job-us");
            if (us !== undefined) jobMs[i] = Number(us) / 1000;
            const startAt = r.headers.get("x-job-start");
            const endAt = r.headers.get("x-job-end");
            const pid = r.headers.get("x-job-pid");
            if (startAt && endAt && pid) {
              jobTimes.startAt[i] = Number(startAt);
              jobTimes.endAt[i] = Number(endAt);
              jobTimes.pid[i] = Number(pid);
            }
            ok++;
          } else {
            failed++;
            if (errorSamples.length < 5) {
              errorSamples.push(
                `status ${r.status} ${r.headers.get("pothead-error") ?? ""}`,
              );
            }
          }
          const c = conn;
          conn = undefined;
          pool.release(c);
        })(),
        timeoutMs,
        "request",
      );
    } catch (e) {
      failed++;
      if (errorSamples.length < 5) {
        errorSamples.push(String((e as Error).message ?? e));
      }
      if (conn) pool.discard(conn);
    }
  };

  const cpu0 = procCpuSeconds("self");
  const t0 = performance.now() + 100;
  const pending: Promise<void>[] = [];
  const times = Float64Array.from(o.arrivals, (a) => a.atMs);
  await tick(times, performance.timeOrigin + t0, (i) => {
    const scheduled = t0 + times[i];
    sendLagMs[i] = performance.now() - scheduled;
    pending.push(one(i, scheduled));
  });
  await Promise.all(pending);
  const wallMs = performance.now() - t0;
  const cpuSec = procCpuSeconds("self") - cpu0;
  pool.closeAll();
  return {
    latencyMs,
    status,
    ok,
    failed,
    errorSamples,
    sendLagMs,
    jobMs,
    jobTimes,
    peakConns: pool.peak,
    openedConns: pool.opened,
    clientQueued: pool.queued,
    cpuSec,
    wallMs,
  };
}
