/**
 * A CPU-heavy app that pulls a job only while a CPU is idle (and 64 MiB of
 * memory are free): `--poll-jobs` with {@linkcode waitForIdleCpu}.
 *
 * Each job counts the primes below `?n=` (a segmented sieve: pure
 * JavaScript, so it keeps its process's event loop busy) after `?input_ms=`
 * of pretend input download, during which the CPU is idle. The gate keeps
 * the job's CPU reserved through that download (`keepReservation`), so the
 * idle CPU it sees is not handed to a second job; the app releases the
 * reservation with `info.resetReservation(0)` when the CPU work starts and
 * shows in the CPU figures by itself.
 *
 * Because the work blocks the event loop, run it with `--processes` (one
 * process per core is a good start): the parent holds the gate for the whole
 * host and grants pulls to the children.
 *
 * ```sh
 * deno run -A worker.ts --connect 127.0.0.1:4040 --poll-jobs --processes 4 examples/gated_app.ts
 * curl 'http://127.0.0.1:8080/primes?n=20000000&input_ms=200'
 * ```
 *
 * @module
 */

import {
  allOf,
  type JobInfo,
  type PotheadApp,
  waitForIdleCpu,
  waitForMemory,
} from "../mod.ts";

/** Largest `n` accepted. */
export const MAX_N = 200_000_000;
const SEGMENT = 1 << 20;

const gate = allOf(
  waitForMemory(64 * 1024 ** 2),
  waitForIdleCpu(1, { keepReservation: true }),
);

function intParam(
  url: URL,
  name: string,
  fallback: number,
  max: number,
): number {
  const text = url.searchParams.get(name);
  if (text === null) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new RangeError(`${name}: expected an integer in [0, ${max}]`);
  }
  return n;
}

/**
 * Counts the primes below `n` with a segmented sieve, giving the event loop
 * a turn between segments so an abort (the consumer went away) is seen.
 * @param n the bound
 * @param signal aborts the count
 * @returns the number of primes p < n
 */
export async function countPrimes(
  n: number,
  signal: AbortSignal,
): Promise<number> {
  if (n < 3) return 0;
  const root = Math.floor(Math.sqrt(n));
  const small = new Uint8Array(root + 1);
  const primes: number[] = [];
  for (let i = 2; i <= root; i++) {
    if (small[i]) continue;
    primes.push(i);
    for (let j = i * i; j <= root; j += i) small[j] = 1;
  }
  let count = 0;
  const seg = new Uint8Array(SEGMENT);
  for (let low = 2; low < n; low += SEGMENT) {
    signal.throwIfAborted();
    const high = Math.min(low + SEGMENT, n);
    seg.fill(0);
    for (const p of primes) {
      if (p * p >= high) break;
      for (let j = Math.max(p * p, Math.ceil(low / p) * p); j < high; j += p) {
        seg[j - low] = 1;
      }
    }
    for (let i = 0; i < high - low; i++) if (!seg[i]) count++;
    await new Promise((r) => setTimeout(r, 0));
  }
  return count;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

/** The app: `GET /primes?n=N&input_ms=M`. */
const app: PotheadApp = {
  waitForSlot: (signal) => gate(signal),
  async fetch(req: Request, info: JobInfo): Promise<Response> {
    const url = new URL(req.url);
    let n: number;
    let inputMs: number;
    try {
      n = intParam(url, "n", 10_000_000, MAX_N);
      inputMs = intParam(url, "input_ms", 0, 60_000);
    } catch (err) {
      return new Response(`${(err as Error).message}\n`, { status: 400 });
    }
    // 1. Input: I/O only. The gate holds this job's CPU meanwhile.
    if (inputMs > 0) await sleep(inputMs, req.signal);
    // 2. CPU work: from here on the job shows in the CPU figures.
    info.resetReservation(0);
    const start = performance.now();
    const primes = await countPrimes(n, req.signal);
    return Response.json({
      n,
      primes,
      ms: Math.round(performance.now() - start),
      worker: info.worker,
    });
  },
};

export default app;
