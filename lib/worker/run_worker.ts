/**
 * Runs a worker: slots that dial the hub(s), serve jobs with the app, and
 * reconnect with backoff; a graceful drain on shutdown.
 *
 * With `--workers N`, each slot keeps one persistent connection and takes one
 * job at a time on it. With `--poll-jobs`, a slot first waits for its gate
 * (the app's `waitForSlot`, or the built-in gates), then opens a connection
 * for exactly one job.
 *
 * @module
 */

import type { HostPort } from "../cli/address.ts";
import type { Gate, SlotTicket } from "../gating/types.ts";
import { Logger } from "../log/logger.ts";
import { WorkerMetrics } from "../metrics/worker_metrics.ts";
import type { PotheadApp } from "./app.ts";
import { Backoff } from "./backoff.ts";
import { dialHub, type DialTls, HandshakeRefused } from "./dial_hub.ts";
import {
  HubAddresses,
  keyOf,
  type Resolver,
  systemResolver,
} from "./hub_addresses.ts";
import { serveConnection } from "./serve_conn.ts";

/** Options of {@linkcode runWorker}. */
export interface WorkerOptions {
  /** The app that answers jobs. */
  app: PotheadApp;
  /** Hubs to serve. @default {[{ hostname: "localhost", port: 4040 }]} */
  connect?: HostPort[];
  /** Slots (concurrent jobs). @default {1} */
  workers?: number;
  /** Pool to serve. @default {"default"} */
  pool?: string;
  /** Token for the hub. @default {null} */
  token?: string | null;
  /** TLS toward the hub, or null for TCP. @default {null} */
  tls?: DialTls | null;
  /** Dynamic concurrency: wait for `gate` before each pull, one connection per job. @default {null} */
  gate?: Gate | null;
  /** Prefix of slot names. @default {`${Deno.hostname()}/${Deno.pid}`} */
  name?: string;
  /** How often names are resolved again. @default {5000} */
  resolveIntervalMs?: number;
  /** Name resolver. @default {systemResolver} */
  resolver?: Resolver;
  /** Logger. @default {new Logger()} */
  logger?: Logger;
  /** Series. @default {new WorkerMetrics()} */
  metrics?: WorkerMetrics;
  /** Reconnect backoff cap, ms. @default {5000} */
  backoffCapMs?: number;
}

/** A running worker. */
export interface WorkerHandle extends AsyncDisposable {
  /** Resolves when every slot has stopped. */
  readonly finished: Promise<void>;
  /** Jobs running now. */
  readonly inFlight: number;
  /**
   * Drains: closes idle connections at once, lets jobs in flight finish,
   * then resolves.
   */
  shutdown(): Promise<void>;
}

interface Slot {
  index: number;
  name: string;
  conn: Deno.Conn | null;
  idle: boolean;
}

/**
 * Starts a worker.
 *
 * @param options the app, hubs, slots
 * @returns the running worker
 *
 * @example Serve an app from a hub
 * ```ts ignore
 * import { runWorker } from "./run_worker.ts";
 * const worker = runWorker({
 *   app: { fetch: () => new Response("hi") },
 *   connect: [{ hostname: "127.0.0.1", port: 4040 }],
 *   workers: 2,
 * });
 * await worker.shutdown();
 * ```
 */
export function runWorker(options: WorkerOptions): WorkerHandle {
  const log = options.logger ?? new Logger();
  const metrics = options.metrics ?? new WorkerMetrics();
  const hubs = new HubAddresses(
    options.connect ?? [{ hostname: "localhost", port: 4040 }],
    options.resolver ?? systemResolver,
  );
  const prefix = options.name ?? `${Deno.hostname()}/${Deno.pid}`;
  const pool = options.pool ?? "default";
  const gate = options.gate ?? null;
  const stop = new AbortController();
  let inFlight = 0;

  const refresh = async () => {
    for (const msg of await hubs.refresh()) {
      log.warn("hub address", { reason: msg });
    }
  };
  const resolveTimer = setInterval(refresh, options.resolveIntervalMs ?? 5000);

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      stop.signal.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });

  const runSlot = async (slot: Slot) => {
    const backoff = new Backoff({ capMs: options.backoffCapMs ?? 5000 });
    let lastError = "";
    while (!stop.signal.aborted) {
      let ticket: SlotTicket | null = null;
      if (gate) {
        const waitStart = performance.now();
        try {
          ticket = await gate(stop.signal);
        } catch {
          break; // aborted: shutting down
        }
        metrics.slotWaited((performance.now() - waitStart) / 1000);
        if (stop.signal.aborted) {
          ticket.done?.();
          break;
        }
      }
      const addr = hubs.acquire();
      if (!addr) {
        ticket?.done?.();
        await sleep(backoff.next());
        continue;
      }
      const hubKey = keyOf(addr);
      let connected = false;
      try {
        const { conn, reader } = await dialHub(addr, {
          pool,
          name: slot.name,
          token: options.token ?? null,
          tls: options.tls ?? null,
        });
        connected = true;
        backoff.reset();
        lastError = "";
        slot.conn = conn;
        metrics.hubConnection(hubKey, 1);
        log.info("worker connected", { hub: hubKey, slot: slot.name, pool });
        if (stop.signal.aborted) {
          conn.close();
          break;
        }
        let jobStart = 0;
        const result = await serveConnection(conn, reader, {
          app: options.app,
          info: {
            pool,
            hub: hubKey,
            worker: slot.name,
            resetReservation: (cpus) => ticket?.resetReservation?.(cpus),
          },
          oneJob: () => gate !== null || stop.signal.aborted,
          onIdle: () => {
            slot.idle = true;
          },
          onJobStart: (req) => {
            slot.idle = false;
            inFlight++;
            jobStart = performance.now();
            metrics.jobStarted();
            ticket?.requestReceived?.(req);
          },
          onJobEnd: (job) => {
            inFlight--;
            metrics.jobFinished(
              job.status,
              (performance.now() - jobStart) / 1000,
            );
            ticket?.done?.();
            log.info("job", {
              id: job.id,
              slot: slot.name,
              method: job.method,
              path: job.target,
              status: job.status,
              out: job.bytesOut,
              ms: Math.round(job.ms * 10) / 10,
              error: job.error,
            });
          },
        });
        slot.conn = null;
        try {
          conn.close();
        } catch { /* closed */ }
        if (result === "closed" && !stop.signal.aborted) {
          log.info("hub connection closed", { hub: hubKey, slot: slot.name });
        }
      } catch (err) {
        metrics.connectError();
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== lastError) {
          log.warn("cannot connect to hub", {
            hub: hubKey,
            slot: slot.name,
            status: err instanceof HandshakeRefused ? err.status : undefined,
            reason: msg,
          });
          lastError = msg;
        }
      } finally {
        slot.conn = null;
        slot.idle = false;
        hubs.release(addr);
        if (connected) metrics.hubConnection(hubKey, -1);
        ticket?.done?.();
      }
      if (!connected) await sleep(backoff.next());
    }
  };

  const slots: Slot[] = Array.from(
    { length: options.workers ?? 1 },
    (_, i) => ({ index: i, name: `${prefix}/${i}`, conn: null, idle: false }),
  );
  const finished = (async () => {
    await refresh();
    await Promise.all(slots.map(runSlot));
    clearInterval(resolveTimer);
  })();

  let stopping: Promise<void> | null = null;
  const shutdown = () => {
    stopping ??= (async () => {
      log.info("worker draining", { in_flight: inFlight });
      stop.abort();
      for (const s of slots) {
        if (s.idle && s.conn) {
          try {
            s.conn.close();
          } catch { /* closed */ }
        }
      }
      await finished;
      log.info("worker stopped");
    })();
    return stopping;
  };

  return {
    finished,
    get inFlight() {
      return inFlight;
    },
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
