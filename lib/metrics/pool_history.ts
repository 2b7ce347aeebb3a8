/**
 * The recent history of one pool for the status page: a ring of per-second
 * samples (queue length, idle and busy workers, queue-wait p50/p99,
 * responses), and the queue-wait quantiles over a sliding window.
 *
 * The request path only increments a counter in the current second's bucket
 * array ({@linkcode PoolHistory.recordWait}); the once-a-second
 * {@linkcode PoolHistory.tick} turns that array into a sample. Nothing here
 * reads a clock, so tests drive it with plain numbers.
 *
 * @module
 */

import { bucketOf, quantile, WAIT_BUCKETS } from "./wait_histogram.ts";

/** Gauges of a pool at the moment of a tick. */
export interface PoolGauges {
  /** Requests waiting in the queue. */
  queued: number;
  /** Idle worker connections. */
  idle: number;
  /** Busy worker connections. */
  busy: number;
}

/** One second of a pool. */
export interface PoolSample extends PoolGauges {
  /** End of the second, in Unix seconds. */
  t: number;
  /** Requests dispatched to a worker in that second. */
  waits: number;
  /** Median queue wait of those, ms; null when there were none. */
  p50: number | null;
  /** 99th percentile queue wait of those, ms; null when there were none. */
  p99: number | null;
  /** Responses finished in that second (every status). */
  responses: number;
  /** Of those, status 500 or above (the hub's own 503/504 included). */
  errors: number;
}

/** Queue-wait quantiles and counts over the sliding window. */
export interface PoolWindow {
  /** Length of the window in seconds (fewer while the hub is young). */
  seconds: number;
  /** Requests dispatched in the window. */
  waits: number;
  /** Median queue wait, ms, or null. */
  p50: number | null;
  /** 99th percentile queue wait, ms, or null. */
  p99: number | null;
  /** Responses finished in the window. */
  responses: number;
  /** Of those, status 500 or above. */
  errors: number;
}

/** Options of {@linkcode PoolHistory}. */
export interface PoolHistoryOptions {
  /** Per-second samples kept. @default {300} */
  historySeconds?: number;
  /** Seconds of the sliding window of {@linkcode PoolHistory.window}. @default {60} */
  windowSeconds?: number;
}

/**
 * The history of one pool.
 *
 * @example Two seconds of traffic
 * ```ts
 * import { PoolHistory } from "./pool_history.ts";
 * const h = new PoolHistory();
 * h.recordWait(10);
 * h.recordResponse(200);
 * h.tick(1, { queued: 0, idle: 1, busy: 0 });
 * h.recordWait(30);
 * h.recordResponse(503);
 * const s = h.tick(2, { queued: 2, idle: 0, busy: 1 });
 * if (s.waits !== 1 || s.errors !== 1) throw new Error();
 * if (h.window().waits !== 2 || h.totals.responses !== 2) throw new Error();
 * ```
 */
export class PoolHistory {
  /** Counts since the pool was first seen. */
  readonly totals: { waits: number; responses: number; errors: number } = {
    waits: 0,
    responses: 0,
    errors: 0,
  };
  #current = new Uint32Array(WAIT_BUCKETS);
  #currentWaits = 0;
  #responses = 0;
  #errors = 0;
  #samples: PoolSample[] = [];
  #next = 0;
  #capacity: number;
  #windowSlots: Uint32Array[];
  #windowWaits: number[];
  #windowSum = new Uint32Array(WAIT_BUCKETS);
  #windowTotal = 0;
  #windowPos = 0;
  #ticks = 0;

  /**
   * Makes an empty history.
   * @param options how much history to keep
   */
  constructor(options: PoolHistoryOptions = {}) {
    this.#capacity = Math.max(1, options.historySeconds ?? 300);
    const w = Math.max(1, options.windowSeconds ?? 60);
    this.#windowSlots = Array.from(
      { length: w },
      () => new Uint32Array(WAIT_BUCKETS),
    );
    this.#windowWaits = new Array<number>(w).fill(0);
  }

  /**
   * Counts a queue wait in the current second.
   * @param ms the wait in milliseconds
   */
  recordWait(ms: number): void {
    this.#current[bucketOf(ms)]++;
    this.#currentWaits++;
  }

  /**
   * Counts a finished response in the current second.
   * @param status its status code
   */
  recordResponse(status: number): void {
    this.#responses++;
    if (status >= 500) this.#errors++;
  }

  /**
   * Closes the current second.
   * @param t the time of the tick, Unix seconds
   * @param gauges the pool's gauges now
   * @returns the sample added
   */
  tick(t: number, gauges: PoolGauges): PoolSample {
    const cur = this.#current;
    const sample: PoolSample = {
      t,
      queued: gauges.queued,
      idle: gauges.idle,
      busy: gauges.busy,
      waits: this.#currentWaits,
      p50: quantile(cur, this.#currentWaits, 0.5),
      p99: quantile(cur, this.#currentWaits, 0.99),
      responses: this.#responses,
      errors: this.#errors,
    };
    // Slide the window: drop its oldest second, add this one.
    const slot = this.#windowSlots[this.#windowPos];
    const sum = this.#windowSum;
    for (let i = 0; i < WAIT_BUCKETS; i++) {
      sum[i] += cur[i] - slot[i];
      slot[i] = cur[i];
    }
    this.#windowTotal += this.#currentWaits -
      this.#windowWaits[this.#windowPos];
    this.#windowWaits[this.#windowPos] = this.#currentWaits;
    this.#windowPos = (this.#windowPos + 1) % this.#windowSlots.length;

    if (this.#samples.length < this.#capacity) this.#samples.push(sample);
    else this.#samples[this.#next] = sample;
    this.#next = (this.#next + 1) % this.#capacity;
    this.#ticks++;

    this.totals.waits += this.#currentWaits;
    this.totals.responses += this.#responses;
    this.totals.errors += this.#errors;
    cur.fill(0);
    this.#currentWaits = 0;
    this.#responses = 0;
    this.#errors = 0;
    return sample;
  }

  /**
   * The samples kept, oldest first.
   * @param since only samples with `t` greater than this @default {-Infinity}
   * @returns the samples
   */
  samples(since = -Infinity): PoolSample[] {
    const n = this.#samples.length;
    const start = n < this.#capacity ? 0 : this.#next;
    const out: PoolSample[] = [];
    for (let k = 0; k < n; k++) {
      const s = this.#samples[(start + k) % n];
      if (s.t > since) out.push(s);
    }
    return out;
  }

  /** The newest sample, or null before the first tick. */
  get latest(): PoolSample | null {
    if (this.#samples.length === 0) return null;
    const n = this.#samples.length;
    return this.#samples[(this.#next - 1 + n) % n];
  }

  /**
   * Queue-wait quantiles and counts over the sliding window.
   * @returns the window summary
   */
  window(): PoolWindow {
    const seconds = Math.min(this.#ticks, this.#windowSlots.length);
    let responses = 0;
    let errors = 0;
    const recent = this.samples().slice(-seconds);
    for (const s of recent) {
      responses += s.responses;
      errors += s.errors;
    }
    return {
      seconds,
      waits: this.#windowTotal,
      p50: quantile(this.#windowSum, this.#windowTotal, 0.5),
      p99: quantile(this.#windowSum, this.#windowTotal, 0.99),
      responses,
      errors,
    };
  }
}
