/**
 * The worker's Prometheus series (DESIGN.md, "Metrics"), registered in
 * prom-client's default registry so that whatever the app registers there is
 * served beside them.
 *
 * @module
 */

import client from "prom-client";
import { JOB_BUCKETS } from "./hub_metrics.ts";

/**
 * The worker's series.
 *
 * @example
 * ```ts
 * import client from "prom-client";
 * import { WorkerMetrics } from "./worker_metrics.ts";
 * const m = new WorkerMetrics(new client.Registry());
 * m.jobFinished(200, 0.1);
 * ```
 */
export class WorkerMetrics {
  /** The registry the series live in. */
  readonly registry: client.Registry;
  #inFlight: client.Gauge;
  #jobs: client.Counter<"code">;
  #duration: client.Histogram;
  #slotWait: client.Histogram;
  #connectErrors: client.Counter;
  #hubConnections: client.Gauge<"hub">;

  /**
   * Registers the series, or reuses those already in `registry`.
   * @param registry where to register @default {client.register} (the default registry)
   */
  constructor(registry: client.Registry = client.register) {
    this.registry = registry;
    const registers = [registry];
    const existing = <T>(name: string) =>
      registry.getSingleMetric(name) as T | undefined;
    // A second WorkerMetrics in one process (tests, embedders) reuses the series.
    this.#inFlight = existing("pothead_worker_jobs_in_flight") ??
      new client.Gauge({
        name: "pothead_worker_jobs_in_flight",
        help: "Jobs the worker is running now.",
        registers,
      });
    this.#jobs = existing("pothead_worker_jobs_total") ??
      new client.Counter({
        name: "pothead_worker_jobs_total",
        help: "Jobs finished, by status code.",
        labelNames: ["code"],
        registers,
      });
    this.#duration = existing("pothead_worker_job_duration_seconds") ??
      new client.Histogram({
        name: "pothead_worker_job_duration_seconds",
        help: "Time from a job's request head to the end of its response.",
        buckets: JOB_BUCKETS,
        registers,
      });
    this.#slotWait = existing("pothead_worker_slot_wait_seconds") ??
      new client.Histogram({
        name: "pothead_worker_slot_wait_seconds",
        help: "Time a slot waited for its gate before pulling (--poll-jobs).",
        buckets: JOB_BUCKETS,
        registers,
      });
    this.#connectErrors = existing("pothead_worker_connect_errors_total") ??
      new client.Counter({
        name: "pothead_worker_connect_errors_total",
        help: "Failed connections or handshakes to a hub.",
        registers,
      });
    this.#hubConnections = existing("pothead_worker_hub_connections") ??
      new client.Gauge({
        name: "pothead_worker_hub_connections",
        help: "Open connections to each hub address.",
        labelNames: ["hub"],
        registers,
      });
  }

  /** A job began. */
  jobStarted(): void {
    this.#inFlight.inc();
  }

  /**
   * A job ended.
   * @param status the status sent
   * @param seconds its duration
   */
  jobFinished(status: number, seconds: number): void {
    this.#inFlight.dec();
    this.#jobs.inc({ code: String(status) });
    this.#duration.observe(seconds);
  }

  /** A slot waited for its gate. @param seconds how long */
  slotWaited(seconds: number): void {
    this.#slotWait.observe(seconds);
  }

  /** A connection or handshake failed. */
  connectError(): void {
    this.#connectErrors.inc();
  }

  /**
   * A connection to a hub opened (+1) or closed (-1).
   * @param hub `ip:port`
   * @param delta +1 or -1
   */
  hubConnection(hub: string, delta: number): void {
    this.#hubConnections.inc({ hub }, delta);
  }
}
