/**
 * What the status page shows (`/status.json`, `/events`): every pool's live
 * gauges, its totals, its queue-wait quantiles over the last minute, and its
 * per-second history. The hub's metrics feed it on the request path; the
 * metrics server ticks it once a second.
 *
 * @module
 */

import type { PoolGaugeSource } from "./hub_metrics.ts";
import {
  PoolHistory,
  type PoolHistoryOptions,
  type PoolSample,
  type PoolWindow,
} from "./pool_history.ts";

/** One pool in a {@linkcode StatusSnapshot}. */
export interface PoolStatus {
  /** Pool name. */
  name: string;
  /** Requests waiting now. */
  queued: number;
  /** Idle worker connections now. */
  idle: number;
  /** Busy worker connections now. */
  busy: number;
  /** Counts since the hub started (as of the last tick). */
  totals: { waits: number; responses: number; errors: number };
  /** Queue-wait quantiles and counts over the last window. */
  window: PoolWindow;
  /** Per-second samples, oldest first (only the new ones when asked `since`). */
  series: PoolSample[];
}

/** The whole status, as served at `/status.json` and in `/events`. */
export interface StatusSnapshot {
  /** When the snapshot was taken (ISO 8601). */
  time: string;
  /** Unix seconds of the last tick (0 before the first). */
  t: number;
  /** When the board started (ISO 8601). */
  started: string;
  /** Seconds since it started. */
  uptime_s: number;
  /** Whether the hub is draining. */
  draining: boolean;
  /** Pools in configuration order. */
  pools: PoolStatus[];
}

/** Options of {@linkcode StatusBoard.snapshot}. */
export interface SnapshotOptions {
  /** Only samples newer than these Unix seconds. @default {-Infinity} (all kept) */
  since?: number;
  /** Whether the hub is draining. @default {false} */
  draining?: boolean;
  /** Wall-clock now, ms. @default {Date.now()} */
  now?: number;
}

/**
 * The status of every pool.
 *
 * @example Record, tick, read
 * ```ts
 * import { StatusBoard } from "./status_board.ts";
 * const board = new StatusBoard({
 *   pools: () => [{ name: "default", queued: 0, idle: 2, busy: 0 }],
 * });
 * board.pool("default").recordWait(5);
 * board.tick(1_000);
 * const snap = board.snapshot({ now: 1_000 });
 * if (snap.pools[0].series.length !== 1) throw new Error();
 * ```
 */
export class StatusBoard {
  #source: PoolGaugeSource;
  #options: PoolHistoryOptions;
  #pools = new Map<string, PoolHistory>();
  #started: number;
  #lastTick = 0;

  /**
   * Makes a board with no history yet.
   * @param source where the pools' gauges are read
   * @param options history and window lengths
   * @param startedMs when the hub started, Unix ms @default {Date.now()}
   */
  constructor(
    source: PoolGaugeSource,
    options: PoolHistoryOptions = {},
    startedMs: number = Date.now(),
  ) {
    this.#source = source;
    this.#options = options;
    this.#started = startedMs;
  }

  /**
   * The history of a pool, made on first use (cache it on the request path).
   * @param name the pool
   * @returns its history
   */
  pool(name: string): PoolHistory {
    let h = this.#pools.get(name);
    if (!h) {
      h = new PoolHistory(this.#options);
      this.#pools.set(name, h);
    }
    return h;
  }

  /**
   * Closes the current second of every pool. A pool that a reload removed
   * keeps its history (the hub's series hold on to it) but is neither ticked
   * nor shown; if it comes back, its history goes on.
   * @param nowMs wall-clock now, Unix ms
   */
  tick(nowMs: number): void {
    const t = Math.round(nowMs / 1000);
    // Two ticks within one second (a late timer) share a timestamp; keep
    // them distinct so clients that merge by `t` see both.
    this.#lastTick = t > this.#lastTick ? t : this.#lastTick + 1;
    for (const p of this.#source.pools()) {
      this.pool(p.name).tick(this.#lastTick, p);
    }
  }

  /** Unix seconds of the last tick (0 before the first). */
  get lastTick(): number {
    return this.#lastTick;
  }

  /**
   * The status now.
   * @param options `since` for only the new samples; draining flag
   * @returns a JSON-ready snapshot
   */
  snapshot(options: SnapshotOptions = {}): StatusSnapshot {
    const now = options.now ?? Date.now();
    const pools: PoolStatus[] = [];
    for (const p of this.#source.pools()) {
      const h = this.pool(p.name);
      pools.push({
        name: p.name,
        queued: p.queued,
        idle: p.idle,
        busy: p.busy,
        totals: { ...h.totals },
        window: h.window(),
        series: h.samples(options.since),
      });
    }
    return {
      time: new Date(now).toISOString(),
      t: this.#lastTick,
      started: new Date(this.#started).toISOString(),
      uptime_s: Math.max(0, Math.round((now - this.#started) / 1000)),
      draining: options.draining ?? false,
      pools,
    };
  }
}
