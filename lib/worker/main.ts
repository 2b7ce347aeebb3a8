/**
 * The worker's command-line program: flags to a running worker, SIGTERM or
 * SIGINT to a graceful drain, exit codes (0 after a drain, 1 on a start-up
 * failure, 2 on a bad command line).
 *
 * @module
 */

import { parseWorkerArgs, WORKER_USAGE } from "../cli/worker_args.ts";
import { UsageError } from "../cli/usage_error.ts";
import { allOf } from "../gating/all_of.ts";
import { waitForIdleCpu } from "../gating/idle_cpu.ts";
import { maxConcurrent } from "../gating/max_concurrent.ts";
import { waitForMemory } from "../gating/memory.ts";
import type { Gate } from "../gating/types.ts";
import { Logger } from "../log/logger.ts";
import {
  serveWorkerMetrics,
  type WorkerMetricsServer,
} from "../metrics/worker_metrics_server.ts";
import { demoApp, loadApp, type PotheadApp } from "./app.ts";
import type { DialTls } from "./dial_hub.ts";
import { runWorker } from "./run_worker.ts";

async function readText(flag: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(
      `${flag}: cannot read '${path}': ${
        err instanceof Error ? err.message : err
      }`,
    );
  }
}

/**
 * The gate of `--poll-jobs`: the app's own `waitForSlot`, else the built-in
 * gates from the flags.
 * @returns the gate
 */
function pollGate(
  app: PotheadApp,
  a: {
    gateCpu: number | null;
    gateMemory: number | null;
    maxConcurrent: number | null;
  },
): Gate {
  if (app.waitForSlot) {
    const wait = app.waitForSlot;
    return async (signal) => (await wait(signal)) ?? {};
  }
  const gates: Gate[] = [];
  // Cheapest and most certain first; the CPU gate last, so its ramp delay
  // and reservation start when the pull really does (see allOf).
  if (a.maxConcurrent !== null) gates.push(maxConcurrent(a.maxConcurrent));
  if (a.gateMemory !== null) gates.push(waitForMemory(a.gateMemory));
  if (a.gateCpu !== null) gates.push(waitForIdleCpu(a.gateCpu));
  if (gates.length === 0) {
    throw new UsageError(
      "--poll-jobs: the app has no waitForSlot; give --gate-cpu, --gate-memory or --max-concurrent",
    );
  }
  return gates.length === 1 ? gates[0] : allOf(...gates);
}

/**
 * Runs the worker until SIGTERM or SIGINT has drained it.
 * @param args command-line arguments
 * @returns the exit code
 */
export async function workerMain(args: string[]): Promise<number> {
  let log = new Logger();
  let worker;
  let metricsServer: WorkerMetricsServer | null = null;
  try {
    const a = parseWorkerArgs(args);
    if (a.help) {
      console.log(WORKER_USAGE);
      return 0;
    }
    log = new Logger({ format: a.logFormat });
    if (a.processes > 1) {
      throw new UsageError(
        "--processes: running child processes is not available in this version",
      );
    }
    if (a.redirectResponse) {
      throw new UsageError(
        "--redirect-response: not available in this version",
      );
    }
    const token = a.tokenFile !== null
      ? (await readText("--token-file", a.tokenFile)).trim()
      : a.tokenEnv;
    let tls: DialTls | null = null;
    if (a.tls) {
      tls = {
        caCerts: a.caFile ? [await readText("--ca-file", a.caFile)] : undefined,
        cert: a.cert ? await readText("--cert", a.cert) : undefined,
        key: a.key ? await readText("--key", a.key) : undefined,
      };
    }
    let app: PotheadApp;
    try {
      app = a.app === null ? demoApp : await loadApp(a.app);
    } catch (err) {
      throw new UsageError(
        `APP: cannot load '${a.app}': ${
          err instanceof Error ? err.message : err
        }`,
      );
    }
    const gate = a.pollJobs ? pollGate(app, a) : null;
    metricsServer = await serveWorkerMetrics({
      port: a.metricsPort,
      multiprocDir: a.multiprocDir,
      log,
    });
    log.info("worker starting", {
      hubs: a.connect.map((c) => `${c.hostname}:${c.port}`).join(","),
      pool: a.pool,
      slots: a.pollJobs ? "poll-jobs" : a.workers,
      app: a.app ?? "demo",
    });
    worker = runWorker({
      app,
      connect: a.connect,
      workers: a.pollJobs ? (a.maxConcurrent ?? 64) : a.workers,
      pool: a.pool,
      token,
      tls,
      gate,
      logger: log,
    });
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`pothead-worker: ${err.message}`);
      console.error(WORKER_USAGE);
      return 2;
    }
    log.error("worker failed to start", {
      reason: err instanceof Error ? err.message : String(err),
    });
    return 1;
  }
  const running = worker;
  const handlers = (["SIGTERM", "SIGINT"] as const).map((s) => {
    const h = () => {
      log.info("signal received", { signal: s });
      running.shutdown();
    };
    Deno.addSignalListener(s, h);
    return [s, h] as const;
  });
  await running.finished;
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  await metricsServer?.shutdown();
  return 0;
}
