/**
 * Live reload of the hub's configuration (issue 8, item 5): SIGHUP, or
 * `POST /-/reload` on the metrics port when `--enable-reload-endpoint` is
 * given, re-reads the `--config` file and applies it to the running hub.
 *
 * What a reload changes, and what it keeps:
 *
 * - Routes and the default pool change at once: the consumer handler reads
 *   a new {@linkcode Router} for the next request.
 * - A pool that stays keeps its queue and its worker connections; its
 *   settings object is replaced (new requests get the new queue timeout,
 *   new dispatches the new response timeout) and its queue limit changes at
 *   once. Requests already waiting keep the deadline they had, even beyond a
 *   lowered limit.
 * - A pool that is added is created empty; its workers can connect at once.
 * - A pool that is removed is retired: no route sends to it, the worker port
 *   refuses new connections for it (404), its queued requests are still
 *   served by its connected workers (or time out as they would have), then
 *   its idle connections are closed and the pool is forgotten. A pool
 *   retired and added back before that happens is revived as it is.
 * - A file that cannot be read or is not valid changes nothing: the reload
 *   is refused with one log line naming the file, line, column and reason.
 *
 * Reloads run one at a time, in the order they were asked for.
 *
 * @module
 */

import {
  ConfigError,
  type HubConfig,
  type PoolSettings,
} from "../config/config.ts";
import type { Logger } from "../log/logger.ts";
import { HubError } from "./errors.ts";
import type { Pool } from "./pool.ts";
import { Router } from "./router.ts";

/** The path of the reload endpoint on the metrics port. */
export const RELOAD_PATH = "/-/reload";

/** What a reload changed. */
export interface ReloadSummary {
  /** Pools created (or revived) by this reload. */
  added: string[];
  /** Pools retired by this reload: they drain, then close. */
  removed: string[];
  /** Pools kept whose settings changed. */
  changed: string[];
  /** The number of routes now in force. */
  routes: number;
  /** The default pool now in force, or `null` (404 `no-route`). */
  defaultPool: string | null;
}

/** The result of {@linkcode ConfigReloader.reload}. */
export type ReloadOutcome =
  | {
    /** The new configuration is in force. */
    ok: true;
    /** What changed. */
    summary: ReloadSummary;
  }
  | {
    /** The old configuration is kept. */
    ok: false;
    /** Why the reload was refused (`file:line:column: reason`). */
    error: string;
    /** `true` when there is no file to re-read (the hub runs without `--config`). */
    noSource: boolean;
  };

/** Options of {@linkcode ConfigReloader}. */
export interface ConfigReloaderOptions {
  /** The hub's pools by name, changed in place. */
  pools: Map<string, Pool>;
  /** Where the consumer handler reads its router; `router` is replaced. */
  routing: { router: Router };
  /** The configuration the hub started with. */
  config: HubConfig;
  /** Makes a pool the way the hub does at start. */
  createPool(settings: PoolSettings): Pool;
  /**
   * Re-reads the configuration (the `--config` file); `null` when the hub
   * runs without a file, so there is nothing to re-read.
   *
   * @default {null}
   */
  load?: (() => Promise<HubConfig>) | null;
  /** Event log. */
  log: Logger;
  /**
   * Called after a configuration has been applied (the hub re-computes its
   * sweep interval from the new pools).
   *
   * @default {() => {}}
   */
  onApplied?: () => void;
}

/**
 * Applies configurations to a running hub and retires removed pools once
 * they are done.
 *
 * @example Add a pool, remove another, keep the third
 * ```ts
 * import { ConfigReloader } from "./reload.ts";
 * import { Pool } from "./pool.ts";
 * import { Router } from "./router.ts";
 * import { parseConfig } from "../config/config.ts";
 * import { ManualClock } from "../clock.ts";
 * import { Logger } from "../log/logger.ts";
 *
 * const defaults = { maxQueue: 1000, queueTimeoutMs: 30_000, responseTimeoutMs: 300_000 };
 * const clock = new ManualClock();
 * const first = parseConfig('{ "pools": { "a": {}, "b": {} }, "defaultPool": "a" }', defaults);
 * const pools = new Map([...first.pools.values()].map((s) => [s.name, new Pool(s, clock)]));
 * const routing = { router: new Router(first) };
 * const reloader = new ConfigReloader({
 *   pools,
 *   routing,
 *   config: first,
 *   createPool: (s) => new Pool(s, clock),
 *   log: new Logger({ sink: () => {} }),
 * });
 *
 * const summary = reloader.apply(parseConfig(
 *   '{ "pools": { "a": { "maxQueue": 5 }, "c": {} }, "defaultPool": "c" }',
 *   defaults,
 * ));
 * if (summary.added.join() !== "c" || summary.removed.join() !== "b") throw new Error();
 * if (pools.get("a")?.queue.maxLength !== 5) throw new Error();
 * if (pools.has("b")) throw new Error("an empty retired pool closes at once");
 * if (routing.router.match("x", "/")?.pool !== "c") throw new Error();
 * for (const p of pools.values()) p.queue.drain();
 * ```
 */
export class ConfigReloader {
  readonly #pools: Map<string, Pool>;
  readonly #routing: { router: Router };
  readonly #createPool: (settings: PoolSettings) => Pool;
  readonly #load: (() => Promise<HubConfig>) | null;
  readonly #log: Logger;
  readonly #onApplied: () => void;
  #config: HubConfig;
  #chain: Promise<unknown> = Promise.resolve();

  /**
   * Makes the reloader of a running hub.
   *
   * @param options the hub's state, how to make pools and how to re-read
   *   the file
   */
  constructor(options: ConfigReloaderOptions) {
    this.#pools = options.pools;
    this.#routing = options.routing;
    this.#config = options.config;
    this.#createPool = options.createPool;
    this.#load = options.load ?? null;
    this.#log = options.log;
    this.#onApplied = options.onApplied ?? (() => {});
  }

  /**
   * The configuration in force.
   *
   * @returns the last configuration applied
   */
  get config(): HubConfig {
    return this.#config;
  }

  /**
   * The pool workers of the original protocol join (they cannot name one):
   * the default pool, else `default`, else the first pool in force.
   *
   * @returns the pool, or `undefined` when every pool is retired
   */
  legacyPool(): Pool | undefined {
    const named = this.#pools.get(this.#config.defaultPool ?? "default");
    if (named && !named.retired) return named;
    for (const pool of this.#pools.values()) if (!pool.retired) return pool;
    return undefined;
  }

  /**
   * Applies a checked configuration at once (see the module notes).
   *
   * @param config a configuration from `parseConfig` or `loadConfigFile`
   * @returns what changed
   */
  apply(config: HubConfig): ReloadSummary {
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const settings of config.pools.values()) {
      const pool = this.#pools.get(settings.name);
      if (pool === undefined) {
        this.#pools.set(settings.name, this.#createPool(settings));
        added.push(settings.name);
        continue;
      }
      if (pool.retired) {
        pool.retired = false;
        added.push(settings.name);
      } else if (!sameSettings(pool.settings, settings)) {
        changed.push(settings.name);
      }
      pool.settings = settings;
      pool.queue.maxLength = settings.maxQueue;
    }
    for (const pool of this.#pools.values()) {
      if (pool.retired || config.pools.has(pool.name)) continue;
      pool.retired = true;
      removed.push(pool.name);
      this.#log.info("pool retired", {
        pool: pool.name,
        queued: pool.queue.length,
        connections: pool.connectionCount,
      });
    }
    // Pools first, then the router: it never names a pool the map lacks.
    this.#routing.router = new Router(config);
    this.#config = config;
    this.sweep();
    this.#onApplied();
    return {
      added,
      removed,
      changed,
      routes: config.routes.length,
      defaultPool: config.defaultPool,
    };
  }

  /**
   * Re-reads the configuration and applies it; a file that cannot be read
   * or is not valid is refused with a log line and changes nothing. Calls
   * made while a reload runs wait for it.
   *
   * @returns whether the new configuration is in force, and what changed
   */
  reload(): Promise<ReloadOutcome> {
    const run = this.#chain.then(() => this.#reloadNow());
    this.#chain = run.catch(() => {});
    return run;
  }

  async #reloadNow(): Promise<ReloadOutcome> {
    if (this.#load === null) {
      const error =
        "the hub runs without --config: there is nothing to re-read";
      this.#log.warn("config reload refused", { reason: error });
      return { ok: false, error, noSource: true };
    }
    let config: HubConfig;
    try {
      config = await this.#load();
    } catch (err) {
      const fields = err instanceof ConfigError
        ? {
          file: err.fileName,
          line: err.line,
          column: err.column,
          reason: err.reason,
        }
        : { reason: err instanceof Error ? err.message : String(err) };
      this.#log.error("config reload refused", {
        ...fields,
        kept: "the previous configuration",
      });
      return {
        ok: false,
        error: err instanceof Error ? err.message : String(err),
        noSource: false,
      };
    }
    const summary = this.apply(config);
    this.#log.info("config reloaded", {
      pools: [...config.pools.keys()].join(","),
      added: summary.added.join(",") || undefined,
      removed: summary.removed.join(",") || undefined,
      changed: summary.changed.join(",") || undefined,
      routes: summary.routes,
      default_pool: summary.defaultPool,
    });
    return { ok: true, summary };
  }

  /**
   * Closes what retired pools no longer need: once a retired pool's queue is
   * empty its idle connections are closed, and once it has no connection
   * left it is forgotten. The hub calls this from its periodic sweep.
   */
  sweep(): void {
    for (const pool of this.#pools.values()) {
      if (!pool.retired || pool.queue.length > 0) continue;
      if (pool.idleCount > 0) pool.closeIdle("pool removed by a reload");
      if (pool.connectionCount > 0) continue;
      // The queue is empty: this only stops its timer.
      pool.failWaiting(
        new HubError("no-route", `pool '${pool.name}' was removed`),
      );
      this.#pools.delete(pool.name);
      this.#log.info("pool closed", { pool: pool.name });
    }
  }

  /**
   * Serves `POST /-/reload`: 200 with the summary as JSON; 422 with the
   * reason when the file is refused; 409 when there is no file; 405 for
   * other methods.
   *
   * @param req the request to {@linkcode RELOAD_PATH}
   * @returns the response
   */
  async handle(req: Request): Promise<Response> {
    if (req.method !== "POST") {
      return new Response("use POST to reload the configuration\n", {
        status: 405,
        headers: { allow: "POST" },
      });
    }
    await req.body?.cancel();
    const outcome = await this.reload();
    if (outcome.ok) return Response.json({ ok: true, ...outcome.summary });
    return Response.json(
      { ok: false, error: outcome.error },
      { status: outcome.noSource ? 409 : 422 },
    );
  }
}

function sameSettings(a: PoolSettings, b: PoolSettings): boolean {
  return a.maxQueue === b.maxQueue && a.queueTimeoutMs === b.queueTimeoutMs &&
    a.responseTimeoutMs === b.responseTimeoutMs;
}
