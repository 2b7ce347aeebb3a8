/**
 * Reconnect delays: capped exponential backoff with full jitter, so a fleet
 * of workers that lost its hub does not reconnect in lock step.
 *
 * @module
 */

/** Options of {@linkcode Backoff}. */
export interface BackoffOptions {
  /** First delay's upper bound, in ms. @default {100} */
  baseMs?: number;
  /** Largest delay, in ms. @default {5000} */
  capMs?: number;
  /** Source of randomness in [0, 1). @default {Math.random} */
  random?: () => number;
}

/**
 * Delays for successive failed attempts.
 *
 * @example
 * ```ts
 * import { Backoff } from "./backoff.ts";
 * const b = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.999 });
 * const delays = [b.next(), b.next(), b.next(), b.next(), b.next()];
 * if (Math.max(...delays) > 1000) throw new Error();
 * b.reset();
 * if (b.next() > 100) throw new Error();
 * ```
 */
export class Backoff {
  #base: number;
  #cap: number;
  #random: () => number;
  #attempt = 0;

  /**
   * Starts at the first attempt.
   * @param options base, cap and randomness
   */
  constructor(options: BackoffOptions = {}) {
    this.#base = options.baseMs ?? 100;
    this.#cap = options.capMs ?? 5000;
    this.#random = options.random ?? Math.random;
  }

  /** The delay before the next attempt. @returns milliseconds */
  next(): number {
    const ceiling = Math.min(this.#cap, this.#base * 2 ** this.#attempt);
    if (ceiling < this.#cap) this.#attempt++;
    return Math.floor(this.#random() * ceiling);
  }

  /** Starts over after a success. */
  reset(): void {
    this.#attempt = 0;
  }
}
