/**
 * One slot of a worker that serves several hubs (issue 7, "Many hubs"): the
 * slot keeps one connection to every hub address at once, so a free slot is
 * offered to every hub, and a request queued at any of them is never left
 * waiting while the slot sits idle at another.
 *
 * The first hub to send a job takes the slot ({@linkcode SlotLeg.claim}).
 * While the slot is busy, a job that another hub sends on its connection is
 * declined (`503`, `Pothead-Declined: busy`, then close; see
 * `serve_conn.ts`), and that hub puts the request back at the front of its
 * queue. A leg whose connection ended dials again only once the slot is free
 * again, so a busy slot is never offered anew. With `oneJob`
 * (`--poll-jobs`), the first job ends the offer: the other legs close at
 * once.
 *
 * @module
 */

import { abortableSleep } from "./abortable_sleep.ts";
import { Backoff } from "./backoff.ts";
import { type HubAddress, keyOf } from "./hub_addresses.ts";

export type { Backoff } from "./backoff.ts";
export type { HubAddress } from "./hub_addresses.ts";

/** One connection of a slot: to one hub address. */
export interface SlotLeg {
  /** The slot's number. */
  readonly index: number;
  /** The slot's name (`<host>/<pid>/<slot>`), the same on every hub. */
  readonly name: string;
  /** The hub address this leg dials. */
  readonly addr: HubAddress;
  /** The connection now, set by whoever serves it. */
  conn: Deno.Conn | null;
  /** Whether the connection waits for a job, set by whoever serves it. */
  idle: boolean;
  /** Reconnect delays of this leg. */
  readonly backoff: Backoff;
  /** The last dial error logged, to log each distinct one once. */
  lastError: string;
  /** True once the leg must end when idle (address gone, job taken elsewhere). */
  readonly retired: boolean;
  /**
   * Takes the slot for a job that arrived on this leg.
   * @returns false when another leg holds it (the job must be declined)
   */
  claim(): boolean;
  /** Frees the slot after this leg's job (idempotent). */
  release(): void;
}

/** Options of {@linkcode HubSlot}. */
export interface HubSlotOptions {
  /** The slot's number. */
  index: number;
  /** The slot's name. */
  name: string;
  /** The hub addresses to serve; read again on {@linkcode HubSlot.sync}. */
  addresses(): readonly HubAddress[];
  /**
   * Dials the leg's hub and serves the connection until it ends, keeping
   * `leg.conn` and `leg.idle` current, calling `leg.claim()` when a job
   * arrives and `leg.release()` when it ends.
   * @returns whether the dial succeeded
   */
  serve(leg: SlotLeg, dialed: (ok: boolean) => void): Promise<boolean>;
  /** End after one job (`--poll-jobs`). @default {false} */
  oneJob?: boolean;
  /** Stops the slot: legs end when idle, none dials again. */
  signal: AbortSignal;
  /** Reconnect backoff cap, ms. @default {5000} */
  backoffCapMs?: number;
  /**
   * `oneJob`: called once when the first dials settled: true as soon as one
   * leg is connected, false when every leg failed (the slot then ends).
   * @default {undefined}
   */
  onDialed?(ok: boolean): void;
}

class Leg implements SlotLeg {
  conn: Deno.Conn | null = null;
  idle = false;
  lastError = "";
  readonly backoff: Backoff;
  retired = false;
  /** Whether the first dial of this leg has settled. */
  settled = false;
  readonly #slot: HubSlot;

  constructor(
    readonly index: number,
    readonly name: string,
    readonly addr: HubAddress,
    slot: HubSlot,
    capMs: number,
  ) {
    this.#slot = slot;
    this.backoff = new Backoff({ capMs });
  }

  claim(): boolean {
    return this.#slot.claimFor(this);
  }

  release(): void {
    this.#slot.releaseFor(this);
  }

  /** Closes the connection if it waits for a job (the hub sees a close). */
  closeIfIdle(): void {
    if (this.idle && this.conn) {
      try {
        this.conn.close();
      } catch { /* closed */ }
    }
  }
}

/**
 * A slot offered to every hub at once.
 *
 * @example Two hubs, one slot: the second hub's job is declined
 * ```ts
 * import { HubSlot, type SlotLeg } from "./hub_slot.ts";
 * const stop = new AbortController();
 * const legs: SlotLeg[] = [];
 * const slot = new HubSlot({
 *   index: 0,
 *   name: "host/1/0",
 *   addresses: () => [
 *     { name: "a", ip: "10.0.0.1", port: 4040 },
 *     { name: "b", ip: "10.0.0.2", port: 4040 },
 *   ],
 *   serve: (leg) => {
 *     legs.push(leg);
 *     return new Promise<boolean>((resolve) =>
 *       stop.signal.addEventListener("abort", () => resolve(true))
 *     );
 *   },
 *   signal: stop.signal,
 * });
 * const done = slot.run();
 * if (!legs[0].claim() || legs[1].claim()) throw new Error("two jobs at once");
 * legs[0].release();
 * if (!legs[1].claim()) throw new Error("a free slot refused a job");
 * stop.abort();
 * await done;
 * ```
 */
export class HubSlot {
  readonly #options: HubSlotOptions;
  readonly #legs = new Map<string, Leg>();
  #holder: Leg | null = null;
  #jobTaken = false;
  #freeWaiters: (() => void)[] = [];
  #dialedReported = false;
  /** `oneJob`: no leg could connect; the offer ends. */
  #gaveUp = false;
  readonly #done = Promise.withResolvers<void>();
  #running = 0;
  #started = false;
  readonly #onAbort = () => {
    for (const leg of this.#legs.values()) leg.closeIfIdle();
    this.#wakeFree();
    this.#maybeFinish();
  };

  /**
   * Makes a slot; {@linkcode HubSlot.run} starts it.
   * @param options addresses, how a leg is served, one job or many
   */
  constructor(options: HubSlotOptions) {
    this.#options = options;
  }

  /** Whether a job runs in this slot now. */
  get busy(): boolean {
    return this.#holder !== null;
  }

  /** The legs now (one per hub address). */
  legs(): Iterable<SlotLeg> {
    return this.#legs.values();
  }

  /**
   * Starts a leg for every address, and resolves when the slot has ended:
   * stopped (and every job finished), or with `oneJob`, after its job or
   * when no leg could connect.
   * @returns resolves when every leg has ended
   */
  run(): Promise<void> {
    if (!this.#started) {
      this.#started = true;
      this.#options.signal.addEventListener("abort", this.#onAbort, {
        once: true,
      });
      this.sync();
      if (this.#running === 0 && this.#options.oneJob) {
        // Nothing to dial: the admission goes back at once.
        this.#gaveUp = true;
        this.#dialedReported = true;
        this.#options.onDialed?.(false);
      }
      this.#maybeFinish();
    }
    return this.#done.promise;
  }

  /**
   * Follows the current addresses: a leg for each new one; a leg whose
   * address is gone ends (at once when idle, else after its job).
   */
  sync(): void {
    if (
      !this.#started || this.#options.signal.aborted || this.#jobTaken ||
      this.#gaveUp
    ) {
      return;
    }
    const current = new Map<string, HubAddress>();
    for (const a of this.#options.addresses()) current.set(keyOf(a), a);
    for (const [key, leg] of this.#legs) {
      if (!current.has(key)) {
        leg.retired = true;
        leg.closeIfIdle();
      }
    }
    for (const [key, addr] of current) {
      // An address back before its retired leg ended gets a new leg.
      if (this.#legs.get(key)?.retired === false) continue;
      const leg = new Leg(
        this.#options.index,
        this.#options.name,
        addr,
        this,
        this.#options.backoffCapMs ?? 5000,
      );
      this.#legs.set(key, leg);
      this.#running++;
      this.#runLeg(leg).finally(() => {
        if (this.#legs.get(key) === leg) this.#legs.delete(key);
        this.#running--;
        this.#maybeFinish();
      });
    }
  }

  /** Closes every leg that waits for a job (shutdown). */
  closeIdle(): void {
    for (const leg of this.#legs.values()) leg.closeIfIdle();
  }

  /** @internal see {@linkcode SlotLeg.claim} */
  claimFor(leg: Leg): boolean {
    if (this.#holder === leg) return true;
    if (this.#holder !== null || leg.retired) return false;
    if (this.#options.oneJob && this.#jobTaken) return false;
    this.#holder = leg;
    if (this.#options.oneJob) {
      // One job per offer: the other hubs must not keep an idle connection
      // that would only decline.
      this.#jobTaken = true;
      for (const other of this.#legs.values()) {
        if (other === leg) continue;
        other.retired = true;
        other.closeIfIdle();
      }
    }
    return true;
  }

  /** @internal see {@linkcode SlotLeg.release} */
  releaseFor(leg: Leg): void {
    if (this.#holder !== leg) return;
    this.#holder = null;
    this.#wakeFree();
  }

  #wakeFree(): void {
    const waiters = this.#freeWaiters;
    this.#freeWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when no job runs in the slot, or the slot stops. */
  #whenFree(): Promise<void> {
    if (this.#holder === null || this.#options.signal.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#freeWaiters.push(resolve));
  }

  #sleep(ms: number): Promise<void> {
    return abortableSleep(ms, this.#options.signal);
  }

  #dialed(leg: Leg, ok: boolean): void {
    if (leg.settled) return;
    leg.settled = true;
    if (this.#dialedReported || !this.#options.onDialed) return;
    if (ok) {
      this.#dialedReported = true;
      this.#options.onDialed(true);
      return;
    }
    // Every leg failed its first dial: report it; the offer ends.
    if ([...this.#legs.values()].every((l) => l.settled)) {
      this.#dialedReported = true;
      this.#gaveUp = true;
      this.#options.onDialed(false);
    }
  }

  async #runLeg(leg: Leg): Promise<void> {
    const { signal, oneJob } = this.#options;
    while (!signal.aborted && !leg.retired) {
      // A busy slot is not offered again: a new connection would only
      // decline.
      if (this.#holder !== null) {
        await this.#whenFree();
        if (signal.aborted || leg.retired) break;
      }
      let connected = false;
      try {
        connected = await this.#options.serve(
          leg,
          (ok) => this.#dialed(leg, ok),
        );
      } finally {
        leg.conn = null;
        leg.idle = false;
        this.releaseFor(leg);
      }
      this.#dialed(leg, connected);
      if (oneJob && (this.#jobTaken || this.#gaveUp)) break;
      if (!connected) await this.#sleep(leg.backoff.next());
    }
  }

  /**
   * Ends the slot once no leg runs and none will start: stopped, or (one
   * job) the job was taken or no leg could connect. A slot serving for good
   * waits for addresses to come back (see {@linkcode HubSlot.sync}).
   */
  #maybeFinish(): void {
    if (this.#running !== 0) return;
    if (
      !this.#options.signal.aborted && !this.#jobTaken && !this.#gaveUp
    ) return;
    this.#options.signal.removeEventListener("abort", this.#onAbort);
    this.#wakeFree();
    this.#done.resolve();
  }
}
