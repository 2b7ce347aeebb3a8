/**
 * The hub's Prometheus series, with exactly the names of DESIGN.md. Gauges
 * are read from the pools when scraped, so the request path only counts and
 * observes.
 *
 * @module
 */

import {
  Counter,
  type CounterSeries,
  Gauge,
  Histogram,
  TextRegistry,
} from "./exposition.ts";
import { StatusBoard } from "./status_board.ts";

/** Buckets for waits and durations of expensive jobs, in seconds. */
export const JOB_BUCKETS: number[] = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
];

/** What the gauges read when scraped. */
export interface PoolGaugeSource {
  /** Per pool: queue length, idle and busy connections. */
  pools(): Iterable<
    { name: string; queued: number; idle: number; busy: number }
  >;
}

/** Counters and histograms of one pool, bound to its label once. */
export interface PoolSeries {
  /** Observe a queue wait in seconds. */
  queueWait(seconds: number): void;
  /** Count a finished request with its status and duration in seconds. */
  finished(status: number, seconds: number): void;
  /** Count a request refused by the hub (reason: a `Pothead-Error` code). */
  rejected(reason: string): void;
  /** Count a request sent to a second worker. */
  redispatched(): void;
}

/**
 * The hub's registry and series.
 *
 * @example Count a request
 * ```ts
 * import { HubMetrics } from "./hub_metrics.ts";
 * const m = new HubMetrics({ pools: () => [] });
 * m.pool("default").finished(200, 0.1);
 * const text = await m.registry.metrics();
 * if (!text.includes('pothead_hub_requests_total{pool="default",code="200"} 1')) throw new Error(text);
 * ```
 */
export class HubMetrics {
  /** The registry served at `/metrics`. */
  readonly registry: TextRegistry;
  /** The per-second history behind the status page. */
  readonly status: StatusBoard;
  #queueWait: Histogram;
  #requests: Counter;
  #duration: Histogram;
  #rejected: Counter;
  #redispatched: Counter;
  #workerConnections: Counter;
  #workerDisconnects: Counter;
  #series = new Map<string, PoolSeries>();

  /** @param source where the gauges read pool state */
  constructor(source: PoolGaugeSource) {
    const registry = new TextRegistry();
    this.registry = registry;
    this.status = new StatusBoard(source);
    registry.add(
      new Gauge(
        "pothead_hub_queue_length",
        "Requests waiting in the pool's queue.",
        ["pool"],
        function* () {
          for (const p of source.pools()) yield [[p.name], p.queued];
        },
      ),
    );
    registry.add(
      new Gauge(
        "pothead_hub_workers",
        "Worker connections of the pool by state.",
        ["pool", "state"],
        function* () {
          for (const p of source.pools()) {
            yield [[p.name, "idle"], p.idle];
            yield [[p.name, "busy"], p.busy];
          }
        },
      ),
    );
    this.#queueWait = registry.add(
      new Histogram(
        "pothead_hub_queue_wait_seconds",
        "Time from a request's arrival to its dispatch to a worker.",
        ["pool"],
        JOB_BUCKETS,
      ),
    );
    this.#requests = registry.add(
      new Counter(
        "pothead_hub_requests_total",
        "Consumer requests answered, by pool and status code.",
        ["pool", "code"],
      ),
    );
    this.#duration = registry.add(
      new Histogram(
        "pothead_hub_request_duration_seconds",
        "Time from a request's arrival to the end of its response.",
        ["pool"],
        JOB_BUCKETS,
      ),
    );
    this.#rejected = registry.add(
      new Counter(
        "pothead_hub_rejected_total",
        "Requests the hub answered itself, by reason (Pothead-Error).",
        ["pool", "reason"],
      ),
    );
    this.#redispatched = registry.add(
      new Counter(
        "pothead_hub_redispatched_total",
        "Requests sent to a second worker after the first failed.",
        ["pool"],
      ),
    );
    this.#workerConnections = registry.add(
      new Counter(
        "pothead_hub_worker_connections_total",
        "Worker connection attempts by result of the handshake.",
        ["result"],
      ),
    );
    this.#workerDisconnects = registry.add(
      new Counter(
        "pothead_hub_worker_disconnects_total",
        "Worker connections closed after joining a pool, by reason (timeouts per phase, faults, shutdown).",
        ["pool", "reason"],
      ),
    );
  }

  /**
   * The series of one pool (made once, then reused on the request path).
   * @param name the pool
   * @returns its series
   */
  pool(name: string): PoolSeries {
    let s = this.#series.get(name);
    if (s) return s;
    const wait = this.#queueWait.labels(name);
    const duration = this.#duration.labels(name);
    let redispatched: CounterSeries | null = null;
    const byCode = new Map<number, CounterSeries>();
    const byReason = new Map<string, CounterSeries>();
    const history = this.status.pool(name);
    s = {
      queueWait: (seconds) => {
        wait.observe(seconds);
        history.recordWait(seconds * 1000);
      },
      finished: (status, seconds) => {
        history.recordResponse(status);
        let c = byCode.get(status);
        if (!c) {
          c = this.#requests.labels(name, String(status));
          byCode.set(status, c);
        }
        c.inc();
        duration.observe(seconds);
      },
      rejected: (reason) => {
        let c = byReason.get(reason);
        if (!c) {
          c = this.#rejected.labels(name, reason);
          byReason.set(reason, c);
        }
        c.inc();
      },
      redispatched: () =>
        (redispatched ??= this.#redispatched.labels(name)).inc(),
    };
    this.#series.set(name, s);
    return s;
  }

  /**
   * Counts a worker connection attempt.
   * @param result `accepted`, `legacy`, `unauthorized`, `unknown-pool`, `bad-handshake`, `handshake-timeout`, `tls-failed`
   */
  workerConnection(result: string): void {
    this.#workerConnections.inc(result);
  }

  /**
   * Counts a worker connection that closed after joining a pool.
   * @param pool the pool
   * @param reason a `WorkerCloseCode`: `response-timeout`, `probe-timeout`, `body-idle-timeout`, `bytes-while-idle`, `worker-closed`, `protocol-error`, `worker-asked`, `consumer-gone`, `request-failed`, `shutdown`, `closed`
   */
  workerDisconnected(pool: string, reason: string): void {
    this.#workerDisconnects.inc(pool, reason);
  }
}
