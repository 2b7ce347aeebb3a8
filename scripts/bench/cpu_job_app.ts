/**
 * The job app of the gated scenario (`gated.ts`): jobs of mixed CPU demand.
 *
 * `GET /job?wait_ms=M&iters=N` waits M ms (a stand-in for downloading the
 * input: no CPU), then does N iterations of integer work on a thread of its
 * own (a Web Worker, reused), so one worker process can load every core the
 * way a native transcoder would, and jobs that share a core take longer.
 * The work is a fixed amount of computation, not a fixed time.
 *
 * Answers with `x-running` (this process's jobs at the start of this one)
 * and `x-job-ms` (the job's own duration).
 *
 * With `CPU_JOB_GATE` set to a JSON object of `waitForIdleCpu` options, the
 * app has its own `waitForSlot` (`waitForIdleCpu(1, options)`), for trying
 * gate settings against the built-in `--gate-cpu` defaults.
 *
 * @module
 */

import { waitForIdleCpu } from "../../lib/gating/idle_cpu.ts";
import type { Gate } from "../../lib/gating/types.ts";

/** The work: `n` rounds of xorshift32 (returned so it is not optimised away). */
export function spin(n: number): number {
  let x = 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}

const THREAD = `
${spin.toString()}
self.onmessage = (e) => self.postMessage(spin(e.data));
`;
let threadUrl: string | null = null;
const idleThreads: Worker[] = [];

/** Runs `spin(n)` on a pooled thread. */
function spinOnThread(n: number): Promise<void> {
  threadUrl ??= URL.createObjectURL(
    new Blob([THREAD], { type: "application/javascript" }),
  );
  const w = idleThreads.pop() ?? new Worker(threadUrl, { type: "module" });
  return new Promise((resolve, reject) => {
    w.onmessage = () => {
      idleThreads.push(w);
      resolve();
    };
    w.onerror = (e) => {
      e.preventDefault();
      w.terminate();
      reject(new Error(e.message));
    };
    w.postMessage(n);
  });
}

let running = 0;

const gateOptions = Deno.env.get("CPU_JOB_GATE");
const gate: Gate | undefined = gateOptions
  ? waitForIdleCpu(1, JSON.parse(gateOptions))
  : undefined;

/** The pothead app. */
export default {
  waitForSlot: gate,
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname !== "/job") {
      return new Response("not found\n", { status: 404 });
    }
    const waitMs = Number(url.searchParams.get("wait_ms") ?? "0");
    const iters = Number(url.searchParams.get("iters") ?? "0");
    if (!(waitMs >= 0 && waitMs <= 600_000 && iters >= 0 && iters <= 1e12)) {
      return new Response("bad wait_ms or iters\n", { status: 400 });
    }
    const t0 = performance.now();
    const atStart = ++running;
    try {
      if (waitMs > 0) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, waitMs);
          req.signal.addEventListener("abort", () => {
            clearTimeout(t);
            reject(req.signal.reason);
          }, { once: true });
        });
      }
      if (iters > 0) await spinOnThread(iters);
    } finally {
      running--;
    }
    return new Response("done\n", {
      headers: {
        "x-running": String(atStart),
        "x-job-ms": (performance.now() - t0).toFixed(1),
      },
    });
  },
};
