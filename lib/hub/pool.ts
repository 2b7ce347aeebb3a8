/**
 * A pool: one central queue of consumer requests and the worker connections
 * that serve it. A request takes an idle connection at once when there is
 * one; otherwise it waits in the queue, and the next connection that becomes
 * free takes the request at the head of the queue.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { PoolSettings } from "../config/config.ts";
import { HubError } from "./errors.ts";
import { PoolQueue, type QueueTicket } from "./pool_queue.ts";
import type { WorkerConn } from "./worker_conn.ts";

/** How a request waits for a worker. */
export interface AcquireOptions {
  /** Priority class (higher first). @default {0} */
  priority?: number;
  /** Fairness key within the class. @default {""} */
  fairnessKey?: string;
  /** Aborts the wait (the consumer went away). */
  signal?: AbortSignal;
  /** Back to the front of the queue (a re-dispatch). @default {false} */
  front?: boolean;
  /** Absolute deadline on the pool's clock; @default now + queueTimeoutMs */
  deadline?: number;
  /** The pool's clock read just now by the caller (saves a reading). @default clock.now() */
  now?: number;
}

/** A connection handed to a request, with what the wait cost. */
export interface Acquired {
  /** The connection, now reserved for this request. */
  conn: WorkerConn;
  /** When the wait began (clock ms). */
  since: number;
  /** Deadline of the wait: kept for a re-dispatch. */
  deadline: number;
}

interface Waiter {
  resolve(conn: WorkerConn): void;
  reject(err: unknown): void;
  ticket: QueueTicket | null;
}

/**
 * One pool of the hub.
 *
 * @example Hand a free connection to a waiting request
 * ```ts ignore
 * const pool = new Pool(settings, systemClock);
 * const { conn } = await pool.acquire({ signal: req.signal });
 * ```
 */
export class Pool {
  /** Name of the pool. */
  readonly name: string;
  /** Current settings; replaced on reload. */
  settings: PoolSettings;
  /** The waiting requests. */
  readonly queue: PoolQueue<Waiter>;
  /** Set when the pool was removed by a reload: it takes no new requests. */
  retired = false;
  #clock: Clock;
  #idle = new Set<WorkerConn>();
  #conns = new Set<WorkerConn>();
  #onTimeout: () => void;

  /**
   * @param settings limits of the pool
   * @param clock time source
   * @param onTimeout called for each request that times out in the queue
   */
  constructor(settings: PoolSettings, clock: Clock, onTimeout?: () => void) {
    this.name = settings.name;
    this.settings = settings;
    this.#clock = clock;
    this.#onTimeout = onTimeout ?? (() => {});
    this.queue = new PoolQueue<Waiter>({
      maxLength: settings.maxQueue,
      clock,
      onTimeout: (w) => {
        w.ticket = null;
        this.#onTimeout();
        w.reject(
          new HubError(
            "queue-timeout",
            `no worker of pool '${this.name}' took the request within ${this.settings.queueTimeoutMs} ms`,
          ),
        );
      },
    });
  }

  /** Connections waiting for a request (idle or being probed). */
  get idleCount(): number {
    return this.#idle.size;
  }

  /** Connections of this pool. */
  get connectionCount(): number {
    return this.#conns.size;
  }

  /** Every connection, for the sweep. @returns the live set */
  connections(): ReadonlySet<WorkerConn> {
    return this.#conns;
  }

  /** Idle connections, for the probe sweep. @returns the live set */
  idleConnections(): ReadonlySet<WorkerConn> {
    return this.#idle;
  }

  /**
   * Waits for a worker connection.
   * @param options priority, fairness key, abort signal
   * @returns the connection, reserved for the caller
   * @throws {HubError} `queue-full` or `queue-timeout`; the signal's reason when aborted
   */
  acquire(options: AcquireOptions = {}): Promise<Acquired> {
    const since = options.now ?? this.#clock.now();
    const deadline = options.deadline ??
      since + this.settings.queueTimeoutMs;
    if (this.#idle.size > 0 && this.queue.length === 0) {
      const conn = this.#idle.values().next().value!;
      this.#idle.delete(conn);
      conn.state = "busy";
      return Promise.resolve({ conn, since, deadline });
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Acquired>((resolve, reject) => {
      const onAbort = () => {
        if (waiter.ticket && this.queue.remove(waiter.ticket)) {
          waiter.ticket = null;
          reject(signal!.reason);
        }
      };
      const waiter: Waiter = {
        resolve: (conn) => {
          signal?.removeEventListener("abort", onAbort);
          resolve({ conn, since, deadline });
        },
        reject: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
        ticket: null,
      };
      const ticket = this.queue.push(waiter, {
        priority: options.priority,
        fairnessKey: options.fairnessKey,
        timeoutMs: deadline - since,
        front: options.front,
      });
      if (!ticket) {
        reject(
          new HubError(
            "queue-full",
            `pool '${this.name}' already has ${this.queue.maxLength} requests waiting`,
          ),
        );
        return;
      }
      waiter.ticket = ticket;
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Adds a new connection (after its handshake) or takes back one that
   * finished a request: it serves the head of the queue, or goes idle.
   * @param conn the connection
   */
  release(conn: WorkerConn): void {
    if (conn.state === "closed") return;
    this.#conns.add(conn);
    const next = this.queue.shift();
    if (next) {
      next.value.ticket = null;
      conn.state = "busy";
      next.value.resolve(conn);
      return;
    }
    this.#idle.add(conn);
    conn.markIdle();
  }

  /**
   * Takes an idle connection out of the idle set (to probe it).
   * @param conn the connection
   * @returns whether it was idle
   */
  takeIdle(conn: WorkerConn): boolean {
    return this.#idle.delete(conn);
  }

  /**
   * Forgets a closed connection.
   * @param conn the connection
   */
  forget(conn: WorkerConn): void {
    this.#conns.delete(conn);
    this.#idle.delete(conn);
  }

  /**
   * Ends every waiting request with `err` and stops the queue's timer.
   * @param err what the waiting consumers receive
   */
  failWaiting(err: HubError): void {
    for (const w of this.queue.drain()) {
      w.ticket = null;
      w.reject(err);
    }
  }

  /**
   * Closes every idle connection (shutdown, or a pool removed by a reload).
   * @param reason for the log
   */
  closeIdle(reason: string): void {
    for (const conn of [...this.#idle]) conn.close(reason, "shutdown");
  }
}
