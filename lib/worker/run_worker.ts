/**
 * Runs a worker: slots that dial the hub(s), serve jobs with the app, and
 * reconnect with backoff; a graceful drain on shutdown.
 *
 * With `--workers N`, each slot keeps one persistent connection and takes one
 * job at a time on it. With `--poll-jobs`, one loop waits for the gate (the
 * app's `waitForSlot`, or the built-in gates) and every admission opens a
 * connection for exactly one job, so as many jobs run as the gate admits.
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
  type HubAddress,
  HubAddresses,
  keyOf,
  type Resolver,
  systemResolver,
} from "./hub_addresses.ts";
import { type Diverter, serveConnection } from "./serve_conn.ts";

/** Options of {@linkcode runWorker}. */
export interface WorkerOptions {
  /** The app that answers jobs. */
  app: PotheadApp;
  /** Hubs to serve. @default {[{ hostname: "localhost", port: 4040 }]} */
  connect?: HostPort[];
  /** Slots (concurrent jobs) without a `gate`; ignored with one. @default {1} */
  workers?: number;
  /** Pool to serve. @default {"default"} */
  pool?: string;
  /** Token for the hub. @default {null} */
  token?: string | null;
  /** TLS toward the hub, or null for TCP. @default {null} */
  tls?: DialTls | null;
  /**
   * Dynamic concurrency: wait for `gate` before each pull, one connection per
   * job; as many jobs run as the gate admits. @default {null}
   */
  gate?: Gate | null;
  /**
   * `--redirect-response`: diverts the app's 200 responses to a redirect
   * server (see `redirect.ts`); the slot stays busy until the body is
   * delivered or dropped. @default {null}
   */
  redirect?: Diverter | null;
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
 * A ticket whose `done` reaches the gate once, however many paths end the
 * job (the contract asks gates to be idempotent; this spares app gates that
 * are not), and whose other calls stop after it.
 */
function doneOnce(ticket: SlotTicket): SlotTicket {
  let finished = false;
  return {
    requestReceived: (req) => {
      if (!finished) ticket.requestReceived?.(req);
    },
    resetReservation: (cpus) => {
      if (!finished) ticket.resetReservation?.(cpus);
    },
    done: () => {
      if (finished) return;
      finished = true;
      ticket.done?.();
    },
  };
}

/** Reconnect state: one per fixed slot, one for the puller of `--poll-jobs`. */
interface DialState {
  backoff: Backoff;
  lastError: string;
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
  const redirect = options.redirect ?? null;
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
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        stop.signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      stop.signal.addEventListener("abort", onAbort, { once: true });
    });

  const newDialState = (): DialState => ({
    backoff: new Backoff({ capMs: options.backoffCapMs ?? 5000 }),
    lastError: "",
  });

  /** Slots alive now (fixed: all of them; polling: those with a job pulled). */
  const live = new Set<Slot>();

  /**
   * Dials `addr` for `slot` and serves the connection until it ends (one job
   * when `ticket` is set). `dialed(ok)` is called once the dial settled. The
   * ticket is done when the job ends or the pull failed.
   * @returns whether the dial succeeded
   */
  const serveOnce = async (
    slot: Slot,
    addr: HubAddress,
    ticket: SlotTicket | null,
    state: DialState,
    dialed: (ok: boolean) => void = () => {},
  ): Promise<boolean> => {
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
      state.backoff.reset();
      state.lastError = "";
      slot.conn = conn;
      metrics.hubConnection(hubKey, 1);
      dialed(true);
      log.info("worker connected", { hub: hubKey, slot: slot.name, pool });
      if (stop.signal.aborted) {
        conn.close();
        return true;
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
        oneJob: () => ticket !== null || stop.signal.aborted,
        divert: redirect ?? undefined,
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
            redirect: job.redirect,
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
      if (!connected) {
        metrics.connectError();
        dialed(false);
      }
      const msg = err instanceof Error ? err.message : String(err);
      if (msg !== state.lastError) {
        log.warn(
          connected ? "hub connection failed" : "cannot connect to hub",
          {
            hub: hubKey,
            slot: slot.name,
            status: err instanceof HandshakeRefused ? err.status : undefined,
            reason: msg,
          },
        );
        state.lastError = msg;
      }
    } finally {
      slot.conn = null;
      slot.idle = false;
      hubs.release(addr);
      if (connected) metrics.hubConnection(hubKey, -1);
      ticket?.done?.();
    }
    return connected;
  };

  /** `--workers N`: one persistent connection at a time, for good. */
  const runFixedSlot = async (slot: Slot) => {
    const state = newDialState();
    live.add(slot);
    while (!stop.signal.aborted) {
      const addr = hubs.acquire();
      if (!addr || !await serveOnce(slot, addr, null, state)) {
        await sleep(state.backoff.next());
      }
    }
    live.delete(slot);
  };

  /**
   * `--poll-jobs`: one loop asks the gate, and every admission gets a slot of
   * its own (the lowest free number) that pulls exactly one job. The gate
   * alone decides how many jobs run: no fixed slot count caps it silently.
   * The next admission is asked for once the dial has settled, so a hub that
   * cannot be reached backs the loop off instead of spinning through the
   * gate.
   */
  const runPuller = async (gate: Gate) => {
    const state = newDialState();
    const used = new Set<number>();
    const jobs = new Set<Promise<void>>();
    while (!stop.signal.aborted) {
      const waitStart = performance.now();
      let ticket: SlotTicket;
      try {
        ticket = await gate(stop.signal);
      } catch (err) {
        if (stop.signal.aborted) break; // shutting down
        log.warn("gate failed", {
          reason: err instanceof Error ? err.message : String(err),
        });
        await sleep(state.backoff.next());
        continue;
      }
      metrics.slotWaited((performance.now() - waitStart) / 1000);
      ticket = doneOnce(ticket);
      if (stop.signal.aborted) {
        ticket.done?.();
        break;
      }
      const addr = hubs.acquire();
      if (!addr) {
        ticket.done?.();
        await sleep(state.backoff.next());
        continue;
      }
      let index = 0;
      while (used.has(index)) index++;
      used.add(index);
      const slot: Slot = {
        index,
        name: `${prefix}/${index}`,
        conn: null,
        idle: false,
      };
      live.add(slot);
      const { promise: dial, resolve: dialed } = Promise.withResolvers<
        boolean
      >();
      const job = serveOnce(slot, addr, ticket, state, dialed).then(
        () => {},
        () => {},
      ).finally(() => {
        dialed(false); // in case serveOnce threw before settling it
        live.delete(slot);
        used.delete(index);
        jobs.delete(job);
      });
      jobs.add(job);
      if (!await dial) await sleep(state.backoff.next());
    }
    await Promise.all(jobs);
  };

  const finished = (async () => {
    await refresh();
    if (gate) {
      await runPuller(gate);
    } else {
      await Promise.all(
        Array.from(
          { length: options.workers ?? 1 },
          (_, i) =>
            runFixedSlot({
              index: i,
              name: `${prefix}/${i}`,
              conn: null,
              idle: false,
            }),
        ),
      );
    }
    clearInterval(resolveTimer);
  })();

  let stopping: Promise<void> | null = null;
  const shutdown = () => {
    stopping ??= (async () => {
      log.info("worker draining", { in_flight: inFlight });
      stop.abort();
      for (const s of live) {
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
