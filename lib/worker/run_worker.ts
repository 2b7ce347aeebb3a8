/**
 * Runs a worker: slots that dial the hub(s), serve jobs with the app, and
 * reconnect with backoff; a graceful drain on shutdown.
 *
 * With `--workers N`, each slot keeps one persistent connection to every hub
 * address and takes one job at a time: the first hub to send a job takes the
 * slot, and another hub's job sent at the same moment is declined and queued
 * again at that hub (`hub_slot.ts`, issue 7). With `--poll-jobs`, one loop
 * waits for the gate (the app's `waitForSlot`, or the built-in gates) and
 * every admission is offered to every hub for exactly one job, so as many
 * jobs run as the gate admits.
 *
 * @module
 */

import { abortableSleep } from "./abortable_sleep.ts";
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
import { HubSlot, type SlotLeg } from "./hub_slot.ts";
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
    for (const s of offers) s.sync();
  };
  const resolveTimer = setInterval(refresh, options.resolveIntervalMs ?? 5000);

  const sleep = (ms: number) => abortableSleep(ms, stop.signal);

  const newDialState = (): DialState => ({
    backoff: new Backoff({ capMs: options.backoffCapMs ?? 5000 }),
    lastError: "",
  });

  /** Slots alive now (fixed: all of them; polling: those with a job pulled). */
  const live = new Set<Slot>();
  /** Slots offered to every hub (issue 7); told when addresses change. */
  const offers = new Set<HubSlot>();

  /**
   * Dials `addr` for `slot` and serves the connection until it ends (one job
   * when `ticket` is set). `dialed(ok)` is called once the dial settled. The
   * ticket is done when the job ends or the pull failed. With a `leg` (one
   * connection of a slot offered to every hub, issue 7), a job runs only
   * when the leg claims the slot, else it is declined.
   * @returns whether the dial succeeded
   */
  const serveOnce = async (
    slot: Slot,
    addr: HubAddress,
    ticket: SlotTicket | null,
    state: DialState,
    dialed: (ok: boolean) => void = () => {},
    leg: SlotLeg | null = null,
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
        oneJob: () =>
          ticket !== null || stop.signal.aborted || (leg?.retired ?? false),
        divert: redirect ?? undefined,
        claim: leg ? () => leg.claim() : undefined,
        onAppError: (err, method, target) => {
          // One line per event: the message and where it was thrown, not
          // the whole stack.
          const where = err instanceof Error
            ? err.stack?.split("\n").find((l) => l.trim().startsWith("at "))
              ?.trim()
            : undefined;
          log.error("app failed", {
            slot: slot.name,
            method,
            path: target,
            reason: err instanceof Error
              ? `${err.name}: ${err.message}`
              : String(err),
            where,
          });
        },
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
          leg?.release();
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
      if (result === "declined") {
        log.info("job declined: the slot is busy with another hub's job", {
          hub: hubKey,
          slot: slot.name,
        });
      } else if (
        result === "closed" && !stop.signal.aborted && !leg?.retired
      ) {
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
      if (!leg) hubs.release(addr);
      if (connected) metrics.hubConnection(hubKey, -1);
      ticket?.done?.();
    }
    return connected;
  };

  /** Serves one leg of a slot offered to every hub. */
  const serveLeg = async (
    leg: SlotLeg,
    ticket: SlotTicket | null,
    dialed: (ok: boolean) => void,
  ): Promise<boolean> => {
    live.add(leg);
    try {
      return await serveOnce(leg, leg.addr, ticket, leg, dialed, leg);
    } finally {
      live.delete(leg);
    }
  };

  /** Runs a slot offered to every hub until it ends. */
  const runOffer = async (slot: HubSlot) => {
    offers.add(slot);
    try {
      await slot.run();
    } finally {
      offers.delete(slot);
    }
  };

  /**
   * `--workers N`: each slot keeps one connection to every hub address for
   * good; the first hub to send a job takes the slot (issue 7).
   */
  const runFixedSlot = (index: number) =>
    runOffer(
      new HubSlot({
        index,
        name: `${prefix}/${index}`,
        addresses: () => hubs.addresses,
        serve: (leg, dialed) => serveLeg(leg, null, dialed),
        signal: stop.signal,
        backoffCapMs: options.backoffCapMs ?? 5000,
      }),
    );

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
      let index = 0;
      while (used.has(index)) index++;
      used.add(index);
      const { promise: dial, resolve: dialed } = Promise.withResolvers<
        boolean
      >();
      // The admission is offered to every hub at once; the first job takes
      // it and the other legs close (issue 7). The gate gets it back when
      // the whole offer has ended.
      const admitted = ticket;
      const legTicket: SlotTicket = {
        requestReceived: (req) => admitted.requestReceived?.(req),
        resetReservation: (cpus) => admitted.resetReservation?.(cpus),
      };
      const job = runOffer(
        new HubSlot({
          index,
          name: `${prefix}/${index}`,
          addresses: () => hubs.addresses,
          serve: (leg, legDialed) => serveLeg(leg, legTicket, legDialed),
          oneJob: true,
          signal: stop.signal,
          backoffCapMs: options.backoffCapMs ?? 5000,
          onDialed: dialed,
        }),
      ).then(() => {}, () => {}).finally(() => {
        admitted.done?.();
        dialed(false); // in case the offer ended before settling it
        used.delete(index);
        jobs.delete(job);
      });
      jobs.add(job);
      if (await dial) state.backoff.reset();
      else await sleep(state.backoff.next());
    }
    await Promise.all(jobs);
  };

  const finished = (async () => {
    await refresh();
    if (gate) {
      await runPuller(gate);
    } else {
      await Promise.all(
        Array.from({ length: options.workers ?? 1 }, (_, i) => runFixedSlot(i)),
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
