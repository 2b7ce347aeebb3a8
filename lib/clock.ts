/**
 * An injectable source of time, so queues, gates and timeouts can be tested
 * without waiting on the real clock.
 *
 * @module
 */

/**
 * A handle returned by {@linkcode Clock.setTimeout}: opaque (a number for
 * {@linkcode ManualClock}, whatever the runtime gives for the real clock).
 */
export type TimerHandle = number | object;

/** Time and timers, injected wherever pothead measures or waits. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences are meaningful). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer made by {@linkcode Clock.setTimeout}; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `performance.now()` and the global timers.
 *
 * @example Measure an interval
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const start = systemClock.now();
 * const elapsed = systemClock.now() - start;
 * if (elapsed < 0) throw new Error("time went backwards");
 * ```
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/**
 * A clock that moves only when told to: for tests.
 *
 * @example Fire a timer without sleeping
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock();
 * let fired = false;
 * clock.setTimeout(() => fired = true, 1000);
 * clock.advance(999);
 * if (fired) throw new Error("too early");
 * clock.advance(1);
 * if (!fired) throw new Error("not fired");
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  /** @param start the initial reading of {@linkcode ManualClock.now}. @default {0} */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current reading. @returns milliseconds */
  now(): number {
    return this.#now;
  }

  /** Registers `fn` to run when the clock reaches now + `ms`. @returns a handle */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  /** Forgets a timer. */
  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === "number") this.#timers.delete(handle);
  }

  /** Moves time forward by `ms`, running due timers in time order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.#timers) {
        if (t.at <= target && t.at < nextAt) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const timer = this.#timers.get(nextId)!;
      this.#timers.delete(nextId);
      this.#now = Math.max(this.#now, timer.at);
      timer.fn();
    }
    this.#now = target;
  }

  /** How many timers are pending. @returns the count */
  get pending(): number {
    return this.#timers.size;
  }
}
