/**
 * The worker's metrics port (`PROMETHEUS_PORT`): `/metrics` with the
 * worker's series and whatever the app registered in prom-client's default
 * registry, and `/healthz`. With `PROMETHEUS_MULTIPROC_DIR` the process that
 * gets the port serves the merge of every process on the host (see
 * `multiprocess.ts`); a process whose port is taken logs that once and runs
 * on, writing its file for the one that serves.
 *
 * @module
 */

import client from "prom-client";
import type { Logger } from "../log/logger.ts";
import {
  checkMultiprocessDir,
  type MultiprocessWriter,
  readMergedMetrics,
  startMultiprocessWriter,
  wipeMultiprocessDir,
} from "./multiprocess.ts";

/** Options of {@linkcode serveWorkerMetrics}. */
export interface WorkerMetricsServerOptions {
  /** Port; 0 turns the port off (the multiprocess file is still written). */
  port: number;
  /** Interface. @default {"0.0.0.0"} */
  hostname?: string;
  /** The registry to serve and write. @default {client.register} */
  registry?: client.Registry;
  /** `PROMETHEUS_MULTIPROC_DIR`; null for a single process. @default {null} */
  multiprocDir?: string | null;
  /** How often this process writes its file, ms. @default {1000} */
  writeIntervalMs?: number;
  /** Where "port taken" and write failures are logged. */
  log: Logger;
}

/** A running metrics port (or none, when it was off or taken). */
export interface WorkerMetricsServer extends AsyncDisposable {
  /** Where it listens, or null when this process does not serve. */
  readonly addr: Deno.NetAddr | null;
  /** The multiprocess writer, when a directory was given. */
  readonly writer: MultiprocessWriter | null;
  /** Stops serving; writes the last multiprocess file (marked exited). */
  shutdown(): Promise<void>;
}

/**
 * Makes the handler of the metrics port.
 *
 * @param registry the process's own registry
 * @param merge when set, serve the merge of this directory (own file excluded)
 * @returns the request handler
 */
export function createWorkerMetricsHandler(
  registry: client.Registry,
  merge: { dir: string; ownFile: string | null } | null = null,
): (req: Request) => Promise<Response> {
  return async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/metrics") {
      const source = merge
        ? await readMergedMetrics(merge.dir, {
          live: registry,
          exclude: merge.ownFile,
        })
        : registry;
      return new Response(await source.metrics(), {
        headers: { "content-type": registry.contentType },
      });
    }
    if (path === "/healthz") return new Response("ok\n");
    return new Response("not found\n", { status: 404 });
  };
}

/**
 * Opens the worker's metrics port.
 *
 * @param options port, registry, multiprocess directory, logger
 * @returns the server handle
 * @throws {TypeError} when `multiprocDir` is not an existing directory
 *
 * @example One process, no port
 * ```ts
 * import { serveWorkerMetrics } from "./worker_metrics_server.ts";
 * import { Logger } from "../log/logger.ts";
 * await using m = await serveWorkerMetrics({ port: 0, log: new Logger() });
 * if (m.addr !== null) throw new Error();
 * ```
 */
export async function serveWorkerMetrics(
  options: WorkerMetricsServerOptions,
): Promise<WorkerMetricsServer> {
  const registry = options.registry ?? client.register;
  const log = options.log;
  const dir = options.multiprocDir ?? null;
  if (dir !== null) await checkMultiprocessDir(dir);

  let server: Deno.HttpServer | null = null;
  let handler: ((req: Request) => Promise<Response>) | null = null;
  if (options.port !== 0) {
    try {
      server = Deno.serve({
        port: options.port,
        hostname: options.hostname ?? "0.0.0.0",
        onListen: () => {},
      }, (req) => handler!(req));
    } catch (err) {
      log.warn("metrics port unavailable; running without it", {
        port: options.port,
        reason: err instanceof Error ? err.message : String(err),
      });
    }
  }
  // Only the process that owns the port wipes the directory, and before its
  // own writer starts: the files of live processes come back within a
  // write interval; those of an earlier run's dead processes do not.
  if (server && dir !== null) {
    try {
      await wipeMultiprocessDir(dir);
    } catch (err) {
      await server.shutdown();
      throw err;
    }
  }
  if (server) {
    const a = server.addr as Deno.NetAddr;
    log.info("metrics listening", {
      metrics: `${a.hostname}:${a.port}`,
      multiproc_dir: dir ?? undefined,
    });
  }
  let writeFailed = false;
  const writer = dir === null ? null : startMultiprocessWriter(dir, registry, {
    intervalMs: options.writeIntervalMs,
    onError: (err) => {
      if (writeFailed) return; // once, not every second
      writeFailed = true;
      log.warn("cannot write multiprocess metrics", {
        dir,
        reason: err instanceof Error ? err.message : String(err),
      });
    },
  });
  handler = createWorkerMetricsHandler(
    registry,
    dir === null ? null : { dir, ownFile: writer!.path },
  );

  let stopping: Promise<void> | null = null;
  const shutdown = () =>
    stopping ??= (async () => {
      await server?.shutdown();
      await writer?.close();
    })();
  return {
    addr: (server?.addr as Deno.NetAddr | undefined) ?? null,
    writer,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
