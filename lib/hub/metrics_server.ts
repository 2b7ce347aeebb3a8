/**
 * The hub's metrics port (`--metrics-listen`): `/metrics` (Prometheus text),
 * `/healthz` (alive), `/readyz` (listening and not draining), and the status
 * page: `/` with `/status.css` and `/status.js`, `/status.json`, and
 * `/events` (server-sent events, one snapshot a second).
 *
 * The handler is a plain `(Request) => Promise<Response>` with an explicit
 * `tick()`, so tests can drive it without a socket or a timer; only
 * {@linkcode serveMetricsPort} opens the port and runs the one-second timer.
 *
 * @module
 */

import type { Logger } from "../log/logger.ts";
import type { HubMetrics } from "../metrics/hub_metrics.ts";
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from "./status_page.ts";

/** What the metrics port reads. */
export interface MetricsHandlerOptions {
  /** The hub's series and status board. */
  metrics: HubMetrics;
  /** Whether the hub is draining (`/readyz` answers 503 then). */
  isDraining(): boolean;
  /**
   * More paths served on the port (e.g. `POST /-/reload`), checked first.
   * @default {{}}
   */
  routes?: Record<string, (req: Request) => Response | Promise<Response>>;
}

/** The handler of the metrics port and its once-a-second step. */
export interface MetricsHandler {
  /** Answers one request. */
  fetch(req: Request): Promise<Response>;
  /**
   * Closes the current second of the status board and sends the new sample
   * to every `/events` subscriber.
   * @param nowMs wall-clock now, Unix ms @default {Date.now()}
   */
  tick(nowMs?: number): void;
  /** Ends every `/events` stream (before the server shuts down). */
  close(): void;
  /** Open `/events` streams. */
  readonly subscribers: number;
}

/** An SSE stream more than this many events behind is dropped. */
const MAX_BACKLOG = 30;

const encoder = new TextEncoder();

function text(body: string, type: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": type, "cache-control": "no-cache" },
  });
}

/**
 * Makes the metrics port's handler.
 *
 * @param options the series and the draining flag
 * @returns the handler
 *
 * @example Read `/status.json` without a socket
 * ```ts
 * import { createMetricsHandler } from "./metrics_server.ts";
 * import { HubMetrics } from "../metrics/hub_metrics.ts";
 * const metrics = new HubMetrics({ pools: () => [{ name: "default", queued: 0, idle: 1, busy: 0 }] });
 * const h = createMetricsHandler({ metrics, isDraining: () => false });
 * h.tick(1_000);
 * const res = await h.fetch(new Request("http://hub/status.json"));
 * const body = await res.json();
 * if (body.pools[0].idle !== 1) throw new Error();
 * ```
 */
export function createMetricsHandler(
  options: MetricsHandlerOptions,
): MetricsHandler {
  const { metrics } = options;
  const routes = new Map(Object.entries(options.routes ?? {}));
  const board = metrics.status;
  const subscribers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  let lastT = 0;

  const drop = (c: ReadableStreamDefaultController<Uint8Array>) => {
    subscribers.delete(c);
    try {
      c.close();
    } catch { /* already closed or errored */ }
  };

  const events = (): Response => {
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        ctrl = c;
        const first = board.snapshot({ draining: options.isDraining() });
        c.enqueue(
          encoder.encode(`retry: 2000\ndata: ${JSON.stringify(first)}\n\n`),
        );
        subscribers.add(c);
      },
      cancel() {
        subscribers.delete(ctrl);
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        // Tell buffering proxies (nginx) to pass each event on at once.
        "x-accel-buffering": "no",
      },
    });
  };

  return {
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const route = routes.get(path);
      if (route) return await route(req);
      switch (path) {
        case "/metrics":
          return text(
            await metrics.registry.metrics(),
            metrics.registry.contentType,
          );
        case "/healthz":
          return text("ok\n", "text/plain; charset=utf-8");
        case "/readyz":
          return options.isDraining()
            ? text("draining\n", "text/plain; charset=utf-8", 503)
            : text("ready\n", "text/plain; charset=utf-8");
        case "/":
        case "/status":
          return text(STATUS_HTML, "text/html; charset=utf-8");
        case "/status.css":
          return text(STATUS_CSS, "text/css; charset=utf-8");
        case "/status.js":
          return text(STATUS_JS, "text/javascript; charset=utf-8");
        case "/status.json":
          return new Response(
            JSON.stringify(
              board.snapshot({ draining: options.isDraining() }),
              null,
              2,
            ) + "\n",
            {
              headers: {
                "content-type": "application/json",
                "cache-control": "no-store",
              },
            },
          );
        case "/events":
          return events();
        default:
          return text("not found\n", "text/plain; charset=utf-8", 404);
      }
    },
    tick(nowMs = Date.now()) {
      board.tick(nowMs);
      if (subscribers.size === 0) {
        lastT = board.lastTick;
        return;
      }
      const snap = board.snapshot({
        since: lastT,
        draining: options.isDraining(),
        now: nowMs,
      });
      lastT = snap.t;
      // One encoding for every subscriber.
      const chunk = encoder.encode(`data: ${JSON.stringify(snap)}\n\n`);
      for (const c of subscribers) {
        if (c.desiredSize !== null && c.desiredSize < -MAX_BACKLOG) {
          drop(c); // a reader this far behind is not reading
          continue;
        }
        try {
          c.enqueue(chunk);
        } catch {
          subscribers.delete(c);
        }
      }
    },
    close() {
      for (const c of [...subscribers]) drop(c);
    },
    get subscribers() {
      return subscribers.size;
    },
  };
}

/** Options of {@linkcode serveMetricsPort}. */
export interface MetricsServerOptions extends MetricsHandlerOptions {
  /** Where to listen. */
  listen: { hostname: string; port: number };
  /** How often the status board ticks, ms. @default {1000} */
  tickMs?: number;
  /** For handler errors. @default {null} (none logged) */
  log?: Logger | null;
}

/** A running metrics port. */
export interface MetricsServer extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** Ends the event streams, stops the timer, closes the port. */
  shutdown(): Promise<void>;
}

/**
 * Opens the hub's metrics port.
 *
 * @param options where to listen, the series, the draining flag
 * @returns the running server
 *
 * @example
 * ```ts
 * import { serveMetricsPort } from "./metrics_server.ts";
 * import { HubMetrics } from "../metrics/hub_metrics.ts";
 * await using server = serveMetricsPort({
 *   listen: { hostname: "127.0.0.1", port: 0 },
 *   metrics: new HubMetrics({ pools: () => [] }),
 *   isDraining: () => false,
 * });
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/healthz`);
 * if ((await res.text()) !== "ok\n") throw new Error();
 * ```
 */
export function serveMetricsPort(options: MetricsServerOptions): MetricsServer {
  const handler = createMetricsHandler(options);
  const log = options.log ?? null;
  const server = Deno.serve({
    ...options.listen,
    onListen: () => {},
    onError: (err) => {
      log?.error("metrics handler failed", { reason: String(err) });
      return text("internal error\n", "text/plain; charset=utf-8", 500);
    },
  }, (req) => handler.fetch(req));
  const timer = setInterval(() => handler.tick(), options.tickMs ?? 1000);
  let stopping: Promise<void> | null = null;
  const shutdown = () =>
    stopping ??= (async () => {
      clearInterval(timer);
      handler.close();
      await server.shutdown();
    })();
  return {
    addr: server.addr as Deno.NetAddr,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
