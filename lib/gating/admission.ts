/**
 * The waiting machinery every built-in gate shares: a FIFO of callers, the
 * jobs admitted and not yet done, a ramp delay between admissions, a cap on
 * concurrency and, while anyone waits, a sampling timer on the injected
 * clock. A gate built on it only says whether there is room.
 *
 * Nothing polls in a loop: the callers are re-checked when a sample is
 * taken, when a job's request arrives, when a job is done or changes its
 * reservation, and when the ramp delay ends. When nobody waits, no timer is
 * left on the clock.
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "../clock.ts";
import type { Gate, SlotTicket } from "./types.ts";

/** A job admitted by a gate and not yet done. */
export interface AdmittedJob {
  /** When it was admitted, on the gate's clock. */
  readonly admittedAt: number;
  /** When its request arrived (`ticket.requestReceived`), or `undefined` before. */
  receivedAt: number | undefined;
  /** When `ticket.resetReservation` was first called, or `undefined` before. */
  resetAt: number | undefined;
  /** When it was done, or `undefined` while it runs. */
  endedAt: number | undefined;
  /** The gate-specific amount this job reserves (CPUs, bytes, …). */
  reserved: number;
}

/** How an {@linkcode admissionGate} decides and when it re-checks. */
export interface AdmissionOptions {
  /**
   * The clock for timers and timestamps.
   *
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Whether one more job fits beside the running ones. Never consulted when
   * no job runs: one job is always admitted then.
   *
   * @default {() => true}
   */
  hasRoom?: (jobs: ReadonlySet<AdmittedJob>, now: number) => boolean;
  /**
   * At most this many jobs at once; a function is read at every check.
   *
   * @default {Infinity}
   */
  maxConcurrent?: number | (() => number);
  /**
   * Milliseconds between one admission and the next (not applied when no job runs).
   *
   * @default {0}
   */
  rampDelay?: number;
  /**
   * Whether a job that takes the place of one done within the last
   * `rampDelay` is admitted without waiting for the ramp (it still needs
   * room). The ramp then spaces only the admissions that raise concurrency,
   * so short jobs are replaced as fast as they end, as with fixed slots.
   *
   * @default {false}
   */
  refillWithoutRamp?: boolean;
  /**
   * Told of each job when it is done (with `endedAt` set), before the
   * callers are re-checked: for gates that account for recent jobs.
   *
   * @default {undefined}
   */
  onDone?: (job: AdmittedJob) => void;
  /**
   * Milliseconds between calls of `sample` while callers wait; 0 takes no samples.
   *
   * @default {0}
   */
  sampleInterval?: number;
  /**
   * Takes a sample; called on the sampling timer, then the callers are re-checked.
   *
   * @default {undefined}
   */
  sample?: () => void;
  /**
   * The initial {@linkcode AdmittedJob.reserved} of each admitted job.
   *
   * @default {0}
   */
  reservation?: number;
  /**
   * Whether tickets offer `resetReservation(n)`, which sets `reserved` to `n`.
   *
   * @default {false}
   */
  resettable?: boolean;
}

interface Waiter {
  resolve(ticket: SlotTicket): void;
  reject(reason: unknown): void;
  signal: AbortSignal;
  onAbort(): void;
}

/**
 * Builds a gate from a room test, with FIFO waiting, ramp delay, a
 * concurrency cap and sampling on the injected clock.
 *
 * @param options the room test and timing
 * @returns a gate; its tickets are released by an idempotent `done()`
 *
 * @example Two at a time, the second one 100 ms after the first
 * ```ts
 * import { admissionGate } from "./admission.ts";
 * import { ManualClock } from "../clock.ts";
 * const clock = new ManualClock();
 * const gate = admissionGate({ clock, maxConcurrent: 2, rampDelay: 100 });
 * const signal = new AbortController().signal;
 * const first = await gate(signal);
 * let second = false;
 * const pending = gate(signal).then(() => second = true);
 * await Promise.resolve();
 * if (second) throw new Error("ramp ignored");
 * clock.advance(100);
 * await pending;
 * first.done?.();
 * ```
 */
export function admissionGate(options: AdmissionOptions = {}): Gate {
  const clock = options.clock ?? systemClock;
  const hasRoom = options.hasRoom ?? (() => true);
  const limit = options.maxConcurrent ?? Infinity;
  const maxConcurrent = typeof limit === "function" ? limit : () => limit;
  const rampDelay = nonNegative("rampDelay", options.rampDelay ?? 0);
  const sampleInterval = nonNegative(
    "sampleInterval",
    options.sampleInterval ?? 0,
  );
  const sample = options.sample;
  const reservation = options.reservation ?? 0;
  const resettable = options.resettable ?? false;
  const refillWithoutRamp = options.refillWithoutRamp ?? false;
  const onDone = options.onDone;

  const jobs = new Set<AdmittedJob>();
  const waiters: Waiter[] = [];
  /** When jobs were done, oldest first, not yet replaced (`refillWithoutRamp`). */
  const vacancies: number[] = [];
  /** The last admission the ramp applied to. */
  let lastGrowthAt = -Infinity;
  let lastSampledAt: number | undefined;
  let sampleTimer: TimerHandle | undefined;
  let rampTimer: TimerHandle | undefined;

  const clearRamp = () => {
    if (rampTimer !== undefined) clock.clearTimeout(rampTimer);
    rampTimer = undefined;
  };

  const tick = () => {
    sampleTimer = undefined;
    lastSampledAt = clock.now();
    try {
      sample?.();
    } catch {
      // A sampler must not throw; if one does, keep the previous figures.
    }
    sampleTimer = clock.setTimeout(tick, sampleInterval);
    check();
  };

  const admit = (waiter: Waiter, now: number, refill: boolean) => {
    waiter.signal.removeEventListener("abort", waiter.onAbort);
    const job: AdmittedJob = {
      admittedAt: now,
      receivedAt: undefined,
      resetAt: undefined,
      endedAt: undefined,
      reserved: reservation,
    };
    jobs.add(job);
    if (refill) vacancies.shift();
    else lastGrowthAt = now;
    clearRamp();
    let finished = false;
    const ticket: SlotTicket = {
      requestReceived() {
        if (!finished && job.receivedAt === undefined) {
          job.receivedAt = clock.now();
          if (waiters.length > 0) check();
        }
      },
      done() {
        if (finished) return;
        finished = true;
        const at = clock.now();
        job.endedAt = at;
        jobs.delete(job);
        if (refillWithoutRamp) vacancies.push(at);
        try {
          onDone?.(job);
        } catch {
          // Bookkeeping must not break the caller's done().
        }
        check();
      },
    };
    if (resettable) {
      ticket.resetReservation = (n: number) => {
        if (finished) return;
        job.resetAt ??= clock.now();
        job.reserved = n > 0 ? n : 0; // NaN and negatives release it all
        check();
      };
    }
    waiter.resolve(ticket);
  };

  const check = () => {
    const now = clock.now();
    // A vacancy older than the ramp delay is no longer a refill.
    while (vacancies.length > 0 && vacancies[0] + rampDelay <= now) {
      vacancies.shift();
    }
    while (waiters.length > 0) {
      const refill = vacancies.length > 0;
      if (jobs.size > 0) {
        if (jobs.size >= maxConcurrent()) break;
        const rampLeft = lastGrowthAt + rampDelay - now;
        if (!refill && rampLeft > 0) {
          rampTimer ??= clock.setTimeout(() => {
            rampTimer = undefined;
            check();
          }, rampLeft);
          break;
        }
        if (!hasRoom(jobs, now)) break;
      }
      admit(waiters.shift()!, now, refill);
    }
    if (waiters.length === 0) {
      clearRamp();
      if (sampleTimer !== undefined) clock.clearTimeout(sampleTimer);
      sampleTimer = undefined;
      return;
    }
    if (sampleInterval > 0 && sampleTimer === undefined) {
      // Resume the sampling cadence where it stopped, so a sample always
      // covers about one interval and smoothing is not reset by short gaps.
      const due = lastSampledAt === undefined
        ? 0
        : lastSampledAt + sampleInterval - now;
      if (due <= 0) tick();
      else sampleTimer = clock.setTimeout(tick, due);
    }
  };

  return (signal: AbortSignal): Promise<SlotTicket> => {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<SlotTicket>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = waiters.indexOf(waiter);
          if (i < 0) return;
          waiters.splice(i, 1);
          reject(signal.reason);
          check(); // stops the timers when nobody is left
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      waiters.push(waiter);
      check();
    });
  };
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0)) {
    throw new RangeError(
      `Cannot build gate: ${name} must be >= 0, current value is ${value}`,
    );
  }
  return value;
}
