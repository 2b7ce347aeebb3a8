/**
 * Deadlines that all have the same length, kept in arrival order and driven
 * by one timer: the worker port's handshake timeout. Thousands of workers
 * connecting at once then cost one small entry each instead of a timer each
 * (issue 6: a timer and its closure per connection outlived the young
 * generation and stayed in the hub's RSS).
 *
 * @module
 */

import type { Clock, TimerHandle } from "../clock.ts";

/** One deadline: given by {@linkcode DeadlineQueue.add}, ended by `done`. */
export interface Deadline<T> {
  /** What the deadline is for; null once done or expired. */
  item: T | null;
  /** When it expires (clock ms). */
  readonly at: number;
  /** Whether it expired before it was done. */
  expired: boolean;
}

/**
 * A FIFO of equal-length deadlines. Entries that end early are dropped from
 * the front as soon as everything before them has ended, and the timer is
 * cleared when nothing is pending, so an idle hub holds no timer.
 *
 * @example Expire what is not done in time
 * ```ts
 * import { ManualClock } from "../clock.ts";
 * import { DeadlineQueue } from "./deadline_queue.ts";
 * const clock = new ManualClock();
 * const expired: string[] = [];
 * const q = new DeadlineQueue<string>(clock, 100, (s) => expired.push(s));
 * const a = q.add("a");
 * q.add("b");
 * q.done(a);
 * clock.advance(100);
 * if (expired.join() !== "b" || q.pending !== 0) throw new Error();
 * ```
 */
export class DeadlineQueue<T> {
  #clock: Clock;
  #timeoutMs: number;
  #onExpired: (item: T) => void;
  #queue: Deadline<T>[] = [];
  #head = 0;
  #timer: TimerHandle | null = null;
  #fire = () => this.#expire();

  /**
   * @param clock time source
   * @param timeoutMs the length of every deadline
   * @param onExpired called with the item of each deadline that expires
   */
  constructor(clock: Clock, timeoutMs: number, onExpired: (item: T) => void) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#onExpired = onExpired;
  }

  /** Entries not yet dropped from the queue (done ones may wait behind others). */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Starts a deadline.
   * @param item what it is for
   * @returns the deadline, to pass to {@linkcode done}
   */
  add(item: T): Deadline<T> {
    const d: Deadline<T> = {
      item,
      at: this.#clock.now() + this.#timeoutMs,
      expired: false,
    };
    this.#queue.push(d);
    if (this.#timer === null) {
      this.#timer = this.#clock.setTimeout(this.#fire, this.#timeoutMs);
    }
    return d;
  }

  /**
   * Ends a deadline before it expires (a no-op after it expired).
   * @param d the deadline
   */
  done(d: Deadline<T>): void {
    d.item = null;
    this.#trim();
  }

  /** Drops ended entries from the front; clears the timer when none is left. */
  #trim(): void {
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head].item === null) {
      this.#head++;
    }
    if (this.#head === q.length) {
      q.length = 0;
      this.#head = 0;
      if (this.#timer !== null) {
        this.#clock.clearTimeout(this.#timer);
        this.#timer = null;
      }
    } else if (this.#head > 1024 && this.#head * 2 > q.length) {
      q.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #expire(): void {
    this.#timer = null;
    const now = this.#clock.now();
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head].at <= now) {
      const d = q[this.#head++];
      const item = d.item;
      if (item === null) continue;
      d.item = null;
      d.expired = true;
      this.#onExpired(item);
    }
    this.#trim();
    if (this.#head < q.length && this.#timer === null) {
      this.#timer = this.#clock.setTimeout(
        this.#fire,
        Math.max(0, q[this.#head].at - now),
      );
    }
  }
}
