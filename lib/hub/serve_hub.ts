/**
 * Starts a hub: the consumer port (`Deno.serve`), the worker port
 * (`Deno.listen`, PTTH handshake), the optional legacy worker port, the
 * metrics port, and the sweep that enforces deadlines and probes idle
 * workers.
 *
 * @module
 */

import { type Clock, systemClock } from "../clock.ts";
import {
  defaultConfig,
  type HubConfig,
  type PoolSettings,
} from "../config/config.ts";
import { Logger } from "../log/logger.ts";
import { HubMetrics } from "../metrics/hub_metrics.ts";
import type { ByteListener } from "../net/byte_conn.ts";
import { listenMutualTls } from "../net/mutual_tls_listener.ts";
import {
  type ConsumerContext,
  createConsumerHandler,
} from "./consumer_handler.ts";
import { serveMetricsPort } from "./metrics_server.ts";
import { HubError } from "./errors.ts";
import { Pool } from "./pool.ts";
import {
  ConfigReloader,
  RELOAD_PATH,
  type ReloadOutcome,
  type ReloadSummary,
} from "./reload.ts";
import { Router } from "./router.ts";
import type { WorkerConn } from "./worker_conn.ts";
import {
  serveLegacyPort,
  serveWorkerPort,
  type WorkerPortContext,
} from "./worker_listener.ts";

/** A host and port to listen on. */
export interface ListenAddress {
  /** Interface address; `0.0.0.0` for all. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
}

/** Options of {@linkcode serveHub}. */
export interface HubOptions {
  /** Consumer port. @default {{ hostname: "0.0.0.0", port: 8080 }} */
  listen?: ListenAddress;
  /** Worker port (PTTH). @default {{ hostname: "0.0.0.0", port: 4040 }} */
  workerListen?: ListenAddress;
  /** Port for workers of the original protocol. @default {null} (off) */
  legacyWorkerListen?: ListenAddress | null;
  /** Metrics, health and status port; null turns it off. @default {{ hostname: "0.0.0.0", port: 9090 }} */
  metricsListen?: ListenAddress | null;
  /** Pools and routes. @default {defaultConfig(...)}: one pool `default` */
  config?: HubConfig;
  /**
   * Re-reads the configuration for {@linkcode HubHandle.reloadConfig}
   * (SIGHUP, `POST /-/reload`); null: nothing to re-read.
   * @default {null}
   */
  loadConfig?: (() => Promise<HubConfig>) | null;
  /** Serve `POST /-/reload` on the metrics port. @default {false} */
  reloadEndpoint?: boolean;
  /** `--max-queue` for the default config. @default {1000} */
  maxQueue?: number;
  /** `--queue-timeout` in ms for the default config. @default {30000} */
  queueTimeoutMs?: number;
  /** `--response-timeout` in ms for the default config. @default {300000} */
  responseTimeoutMs?: number;
  /** `--drain-timeout` in ms. @default {30000} */
  drainTimeoutMs?: number;
  /** `--max-body-size` in bytes. @default {Infinity} */
  maxBodySize?: number;
  /** Token workers must present. @default {null} */
  workerToken?: string | null;
  /** How long a worker has for its handshake. @default {10000} */
  handshakeTimeoutMs?: number;
  /** Idle connections are probed after this long. @default {30000} */
  probeIntervalMs?: number;
  /** A probe unanswered this long drops the connection. @default {5000} */
  probeTimeoutMs?: number;
  /** A response body that stalls this long drops the connection. @default {60000} */
  bodyIdleTimeoutMs?: number;
  /** TLS certificate and key (PEM text) for the consumer port. @default {null} */
  tls?: { cert: string; key: string } | null;
  /** TLS certificate and key (PEM text) for the worker port. @default {null} */
  workerTls?: { cert: string; key: string } | null;
  /**
   * CA certificate(s) (PEM text) that worker client certificates must chain
   * to (mutual TLS); needs `workerTls`. @default {null}
   */
  workerClientCa?: string | null;
  /** Logger. @default {new Logger()} */
  logger?: Logger;
  /** Time source. @default {systemClock} */
  clock?: Clock;
}

/** The addresses a running hub listens on. */
export interface HubAddresses {
  /** Consumer port. */
  consumer: Deno.NetAddr;
  /** Worker port. */
  worker: Deno.NetAddr;
  /** Legacy worker port, when open. */
  legacy: Deno.NetAddr | null;
  /** Metrics port, when open. */
  metrics: Deno.NetAddr | null;
}

/** A running hub. */
export interface HubHandle extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: HubAddresses;
  /** Resolves when the hub has stopped. */
  readonly finished: Promise<void>;
  /** Whether the hub is draining. */
  readonly draining: boolean;
  /**
   * Drains: stops taking requests (503 `draining`), serves what is queued
   * and in flight for up to `drainTimeoutMs`, then closes everything.
   */
  shutdown(): Promise<void>;
  /**
   * Applies a checked configuration at once: routes and limits change,
   * queued requests and worker connections stay, removed pools drain and
   * close (see `reload.ts`).
   * @param config the new configuration
   * @returns what changed
   */
  reload(config: HubConfig): ReloadSummary;
  /**
   * Re-reads the configuration with `loadConfig` and applies it; an invalid
   * file is refused with a log line and changes nothing.
   * @returns whether the new configuration is in force
   */
  reloadConfig(): Promise<ReloadOutcome>;
}

/**
 * Starts a hub.
 *
 * @param options ports, pools and limits
 * @returns the running hub
 *
 * @example Start a hub on free ports and stop it
 * ```ts
 * import { serveHub } from "./serve_hub.ts";
 * import { Logger } from "../log/logger.ts";
 * await using hub = await serveHub({
 *   listen: { hostname: "127.0.0.1", port: 0 },
 *   workerListen: { hostname: "127.0.0.1", port: 0 },
 *   metricsListen: null,
 *   logger: new Logger({ sink: () => {} }),
 * });
 * const res = await fetch(`http://127.0.0.1:${hub.addr.consumer.port}/`, {
 *   headers: { "pothead-priority": "0" },
 *   signal: AbortSignal.timeout(50),
 * }).catch(() => null);
 * await res?.body?.cancel();
 * ```
 */
export async function serveHub(options: HubOptions = {}): Promise<HubHandle> {
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? new Logger();
  const config = options.config ?? defaultConfig({
    maxQueue: options.maxQueue ?? 1000,
    queueTimeoutMs: options.queueTimeoutMs ?? 30_000,
    responseTimeoutMs: options.responseTimeoutMs ?? 300_000,
  });
  const pools = new Map<string, Pool>();
  const createPool = (settings: PoolSettings) => new Pool(settings, clock);
  for (const settings of config.pools.values()) {
    pools.set(settings.name, createPool(settings));
  }
  const conns = new Set<WorkerConn>();
  const metrics = new HubMetrics({
    *pools() {
      for (const p of pools.values()) {
        yield {
          name: p.name,
          queued: p.queue.length,
          idle: p.idleCount,
          busy: p.connectionCount - p.idleCount,
        };
      }
    },
  });
  const ctx: ConsumerContext = {
    router: new Router(config),
    pools,
    draining: false,
    maxBodySize: options.maxBodySize ?? Infinity,
    proto: options.tls ? "https" : "http",
    clock,
    log,
    metrics,
  };
  let rearmSweep = () => {};
  const reloader = new ConfigReloader({
    pools,
    routing: ctx,
    config,
    createPool,
    load: options.loadConfig ?? null,
    log,
    onApplied: () => rearmSweep(),
  });
  const workerCtx: WorkerPortContext = {
    pools,
    token: options.workerToken ?? null,
    clock,
    log,
    metrics,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    track(conn, joined) {
      if (joined) conns.add(conn);
      else conns.delete(conn);
    },
  };

  const listen = options.listen ?? { hostname: "0.0.0.0", port: 8080 };
  const workerListen = options.workerListen ??
    { hostname: "0.0.0.0", port: 4040 };
  const metricsListen = options.metricsListen === undefined
    ? { hostname: "0.0.0.0", port: 9090 }
    : options.metricsListen;

  if (options.workerClientCa && !options.workerTls) {
    throw new TypeError(
      "workerClientCa needs workerTls: client certificates are checked during TLS",
    );
  }
  // Deno.listenTls cannot ask for client certificates; node:tls can
  // (PLATFORM.md, "TLS").
  const workerListener: ByteListener = options.workerTls &&
      options.workerClientCa
    ? await listenMutualTls({
      ...workerListen,
      ...options.workerTls,
      ca: options.workerClientCa,
      handshakeTimeoutMs: workerCtx.handshakeTimeoutMs,
      onHandshakeError: (err, remote) => {
        metrics.workerConnection("tls-failed");
        log.warn("worker refused", {
          remote,
          result: "tls-failed",
          reason: err.message,
        });
      },
    })
    : options.workerTls
    ? Deno.listenTls({
      ...workerListen,
      ...options.workerTls,
      transport: "tcp",
    })
    : Deno.listen({ ...workerListen, transport: "tcp" });
  const cleanup: (() => void)[] = [() => workerListener.close()];
  try {
    const legacyListener = options.legacyWorkerListen
      ? Deno.listen({ ...options.legacyWorkerListen, transport: "tcp" })
      : null;
    if (legacyListener) cleanup.push(() => legacyListener.close());

    // Requests taken before a drain began. The consumer server is shut down
    // only once they are done: Deno.serve's shutdown makes request bodies
    // that are not read yet unreadable, which would fail queued uploads.
    // Requests that come during the drain get 503 draining at once.
    let early = 0;
    let onEarlyDone: (() => void) | null = null;
    const countEarly = (
      handler: (req: Request, info: Deno.ServeHandlerInfo) => Promise<Response>,
    ) =>
    (req: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
      if (ctx.draining) return handler(req, info);
      early++;
      const done = () => {
        if (--early === 0) onEarlyDone?.();
      };
      info.completed.then(done, done);
      return handler(req, info);
    };
    const earlyDone = () =>
      early === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => onEarlyDone = resolve);

    const consumerServer = Deno.serve({
      ...listen,
      ...(options.tls ?? {}),
      onListen: () => {},
      onError: (err) => {
        log.error("consumer handler failed", { reason: String(err) });
        return new Response("internal error\n", { status: 500 });
      },
    }, countEarly(createConsumerHandler(ctx)));
    cleanup.push(() => void consumerServer.shutdown());

    const metricsServer = metricsListen
      ? serveMetricsPort({
        listen: metricsListen,
        metrics,
        isDraining: () => ctx.draining,
        routes: options.reloadEndpoint
          ? { [RELOAD_PATH]: (req) => reloader.handle(req) }
          : {},
        log,
      })
      : null;
    if (metricsServer) cleanup.push(() => void metricsServer.shutdown());

    const probeInterval = options.probeIntervalMs ?? 30_000;
    const probeTimeout = options.probeTimeoutMs ?? 5_000;
    const bodyIdle = options.bodyIdleTimeoutMs ?? 60_000;
    // Recomputed after a reload: a pool may bring a shorter response timeout.
    const sweepInterval = () =>
      Math.max(
        50,
        Math.min(
          1000,
          probeTimeout / 4,
          ...[...pools.values()].map((p) => p.settings.responseTimeoutMs / 4),
        ),
      );
    let sweepEvery = sweepInterval();
    const sweepOnce = () => {
      const now = clock.now();
      for (const c of conns) c.sweep(now, bodyIdle);
      for (const pool of pools.values()) {
        for (const c of pool.idleConnections()) {
          // The original protocol has one request per connection: a probe
          // would be that request (issue 7). Its closes are still seen by
          // the idle read, and TCP keepalive finds dead peers.
          if (c.legacy) continue;
          if (now - c.idleSince < probeInterval) break; // idle set is in idle order
          pool.takeIdle(c);
          c.probe(probeTimeout);
        }
      }
      reloader.sweep();
    };
    let sweep = setInterval(sweepOnce, sweepEvery);
    rearmSweep = () => {
      const every = sweepInterval();
      if (every === sweepEvery || ctx.draining) return;
      sweepEvery = every;
      clearInterval(sweep);
      sweep = setInterval(sweepOnce, every);
    };
    cleanup.push(() => clearInterval(sweep));

    const workerLoop = serveWorkerPort(workerListener, workerCtx);
    const legacyLoop = legacyListener
      ? serveLegacyPort(legacyListener, () => reloader.legacyPool(), workerCtx)
      : Promise.resolve();

    const addr: HubAddresses = {
      consumer: consumerServer.addr as Deno.NetAddr,
      worker: workerListener.addr as Deno.NetAddr,
      legacy: (legacyListener?.addr as Deno.NetAddr | undefined) ?? null,
      metrics: (metricsServer?.addr as Deno.NetAddr | undefined) ?? null,
    };
    log.info("hub listening", {
      consumer: hostPort(addr.consumer),
      worker: hostPort(addr.worker),
      legacy: addr.legacy ? hostPort(addr.legacy) : undefined,
      metrics: addr.metrics ? hostPort(addr.metrics) : undefined,
      pools: [...pools.keys()].join(","),
    });

    let finish!: () => void;
    const finished = new Promise<void>((r) => finish = r);
    let stopping: Promise<void> | null = null;
    const drainTimeout = options.drainTimeoutMs ?? 30_000;

    const shutdown = () => {
      stopping ??= (async () => {
        ctx.draining = true;
        const queued = [...pools.values()].reduce(
          (n, p) => n + p.queue.length,
          0,
        );
        const busy = [...conns].filter((c) => c.state === "busy").length;
        log.info("hub draining", {
          queued,
          in_flight: busy,
          timeout_ms: drainTimeout,
        });
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), drainTimeout);
        });
        const drained = await Promise.race([
          earlyDone().then(() => consumerServer.shutdown()).then(() => false),
          timedOut,
        ]);
        clearTimeout(timer);
        for (const pool of pools.values()) {
          pool.failWaiting(
            new HubError("draining", "the hub is shutting down"),
          );
        }
        clearInterval(sweep);
        workerListener.close();
        legacyListener?.close();
        for (const c of [...conns]) c.close("hub shutting down", "shutdown");
        if (drained) {
          log.warn("hub drain timed out", { timeout_ms: drainTimeout });
          await consumerServer.shutdown().catch(() => {});
        }
        await Promise.allSettled([workerLoop, legacyLoop]);
        await metricsServer?.shutdown();
        log.info("hub stopped");
        finish();
      })();
      return stopping;
    };

    return {
      addr,
      finished,
      get draining() {
        return ctx.draining;
      },
      shutdown,
      reload: (next) => reloader.apply(next),
      reloadConfig: () => reloader.reload(),
      [Symbol.asyncDispose]: shutdown,
    };
  } catch (err) {
    for (const c of cleanup) c();
    throw err;
  }
}

function hostPort(a: Deno.NetAddr): string {
  return a.hostname.includes(":")
    ? `[${a.hostname}]:${a.port}`
    : `${a.hostname}:${a.port}`;
}
