/**
 * The worker's command-line program: flags to a running worker, SIGTERM or
 * SIGINT to a graceful drain, exit codes (0 after a drain, 1 on a start-up
 * failure, 2 on a bad command line).
 *
 * @module
 */

import { readFlagFile } from "../cli/read_flag_file.ts";
import {
  parseWorkerArgs,
  WORKER_USAGE,
  type WorkerArgs,
} from "../cli/worker_args.ts";
import { UsageError } from "../cli/usage_error.ts";
import { allOf } from "../gating/all_of.ts";
import { waitForIdleCpu } from "../gating/idle_cpu.ts";
import { maxConcurrent } from "../gating/max_concurrent.ts";
import { waitForMemory } from "../gating/memory.ts";
import type { Gate } from "../gating/types.ts";
import { Logger } from "../log/logger.ts";
import { serveWorkerMetrics } from "../metrics/worker_metrics_server.ts";
import { demoApp, loadApp, type PotheadApp } from "./app.ts";
import type { DialTls } from "./dial_hub.ts";
import { ParentLink } from "./grant_ipc.ts";
import {
  childIndex,
  CONTROL_SOCKET_ENV,
  runProcesses,
  selfCommand,
  withoutProcessesFlag,
} from "./processes.ts";
import { type RedirectServer, serveRedirects } from "./redirect.ts";
import { runWorker } from "./run_worker.ts";

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

/** Loads APP (or the demo app); a module that does not load is a usage error. */
async function appOf(spec: string | null): Promise<PotheadApp> {
  try {
    return spec === null ? demoApp : await loadApp(spec);
  } catch (err) {
    throw new UsageError(
      `APP: cannot load '${spec}': ${err instanceof Error ? err.message : err}`,
    );
  }
}

/**
 * Calls `onSignal` on SIGTERM and SIGINT until the returned function is
 * called.
 * @returns removes the listeners
 */
function onStopSignals(
  log: Logger,
  onSignal: (signal: Deno.Signal) => void,
): () => void {
  const handlers = (["SIGTERM", "SIGINT"] as const).map((s) => {
    const h = () => {
      log.info("signal received", { signal: s });
      onSignal(s);
    };
    Deno.addSignalListener(s, h);
    return [s, h] as const;
  });
  return () => {
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  };
}

/**
 * `--processes P` in the parent: starts the children and, with
 * `--poll-jobs`, holds the host's gate; serves the metrics port (the merge
 * of every child's series: with no `PROMETHEUS_MULTIPROC_DIR`, a private
 * one is made for the children).
 */
async function parentMain(
  a: WorkerArgs,
  args: string[],
  log: Logger,
): Promise<number> {
  // The gate is the host's: the parent loads the app only to ask its
  // waitForSlot (children load it to serve).
  const gate = a.pollJobs ? pollGate(await appOf(a.app), a) : null;
  let privateDir: string | null = null;
  let multiprocDir = a.multiprocDir;
  if (multiprocDir === null && a.metricsPort !== 0) {
    privateDir = await Deno.makeTempDir({ prefix: "pothead-metrics-" });
    multiprocDir = privateDir;
  }
  try {
    const metricsServer = await serveWorkerMetrics({
      port: a.metricsPort,
      multiprocDir,
      log,
    });
    log.info("worker starting", {
      hubs: a.connect.map((c) => `${c.hostname}:${c.port}`).join(","),
      pool: a.pool,
      processes: a.processes,
      slots: a.pollJobs ? "poll-jobs" : a.workers,
      app: a.app ?? "demo",
    });
    const children = await runProcesses({
      processes: a.processes,
      command: selfCommand(withoutProcessesFlag(args)),
      gate,
      env: multiprocDir === null
        ? {}
        : { PROMETHEUS_MULTIPROC_DIR: multiprocDir },
      logger: log,
    });
    const removeListeners = onStopSignals(log, (s) => children.shutdown(s));
    const code = await children.finished;
    removeListeners();
    await metricsServer.shutdown();
    log.info("worker stopped", { code });
    return code;
  } finally {
    if (privateDir !== null) {
      await Deno.remove(privateDir, { recursive: true }).catch(() => {});
    }
  }
}

/**
 * Offsets the port of a redirect URL by a child's number, so every
 * `--processes` child has its own redirect port.
 */
function offsetPort(url: string, by: number): string {
  if (by === 0) return url;
  const u = new URL(url);
  const port = u.port !== ""
    ? Number(u.port)
    : (u.protocol === "https:" ? 443 : 80);
  u.port = String(port + by);
  return u.href.replace(/\/+$/, "");
}

/** One worker process: alone, or a `--processes` child numbered `index`. */
async function workerProcessMain(
  a: WorkerArgs,
  log: Logger,
  index: number | null,
): Promise<number> {
  const token = a.tokenFile !== null
    ? (await readFlagFile("--token-file", a.tokenFile)).trim()
    : a.tokenEnv;
  let tls: DialTls | null = null;
  if (a.tls) {
    tls = {
      caCerts: a.caFile
        ? [await readFlagFile("--ca-file", a.caFile)]
        : undefined,
      cert: a.cert ? await readFlagFile("--cert", a.cert) : undefined,
      key: a.key ? await readFlagFile("--key", a.key) : undefined,
    };
  }
  const app = await appOf(a.app);
  const socket = Deno.env.get(CONTROL_SOCKET_ENV);
  const link = index !== null && socket
    ? await ParentLink.connect(socket)
    : null;
  // A polling child asks its parent, which decides for the whole host.
  const gate = a.pollJobs ? (link ? link.gate : pollGate(app, a)) : null;
  const metricsServer = await serveWorkerMetrics({
    port: a.metricsPort,
    multiprocDir: a.multiprocDir,
    log,
  });
  let redirect: RedirectServer | null = null;
  if (a.redirectResponse) {
    // `--processes` children listen on consecutive ports (port 0: any).
    const by = index ?? 0;
    redirect = serveRedirects({
      listen: {
        hostname: a.redirectListen.hostname,
        port: a.redirectListen.port === 0 ? 0 : a.redirectListen.port + by,
      },
      baseUrl: a.redirectUrl === null ? null : offsetPort(a.redirectUrl, by),
      ttlMs: a.redirectTtlMs,
    });
    log.info("redirect listening", {
      redirect: `${redirect.addr.hostname}:${redirect.addr.port}`,
      url: redirect.store.baseUrl,
    });
  }
  log.info("worker starting", {
    hubs: a.connect.map((c) => `${c.hostname}:${c.port}`).join(","),
    pool: a.pool,
    slots: a.pollJobs ? "poll-jobs" : a.workers,
    app: a.app ?? "demo",
  });
  const store = redirect?.store ?? null;
  const worker = runWorker({
    app,
    connect: a.connect,
    workers: a.workers,
    pool: a.pool,
    token,
    tls,
    gate,
    redirect: store ? (res) => store.divert(res) : null,
    logger: log,
  });
  link?.hello(index ?? 0);
  link?.closed.then(() => {
    log.warn("parent process gone; draining");
    worker.shutdown();
  });
  const removeListeners = onStopSignals(log, () => worker.shutdown());
  await worker.finished;
  removeListeners();
  // Jobs wait for their redirected bodies, so none is pending here.
  await redirect?.shutdown();
  await metricsServer.shutdown();
  await link?.close();
  return 0;
}

/**
 * Runs the worker until SIGTERM or SIGINT has drained it: one process, or
 * with `--processes P` a parent and P children.
 * @param args command-line arguments
 * @returns the exit code
 */
export async function workerMain(args: string[]): Promise<number> {
  let log = new Logger();
  try {
    const a = parseWorkerArgs(args);
    if (a.help) {
      console.log(WORKER_USAGE);
      return 0;
    }
    const index = childIndex();
    log = new Logger({
      format: a.logFormat,
      base: index === null ? {} : { process: index },
    });
    // A child never starts children of its own, whatever its flags say.
    return a.processes > 1 && index === null
      ? await parentMain(a, args, log)
      : await workerProcessMain(a, log, index);
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
}
