/**
 * `--redirect-response` (issue 3): a 200 from the app reaches the hub as
 * `303 See Other` (RFC 9110 §15.4.4) whose `Location` is this worker's own
 * redirect port, and the consumer fetches the body from the worker directly,
 * so the hub never carries it. This is the original POTHEAD's
 * "OutOfBandResponder".
 *
 * Each body waits under a key of 128 random bits (base64url), good for one
 * GET within the TTL. An unknown, used or expired key is 404; an unclaimed
 * body is cancelled at the TTL, so the app's stream sees `cancel`. The job's
 * slot stays busy until the body was delivered or dropped (see
 * `Diverter` in `serve_conn.ts`).
 *
 * {@linkcode RedirectStore} is the socket-free part (a `Diverter` and a
 * `(Request) => Response` handler); {@linkcode serveRedirects} puts it on a
 * port.
 *
 * @module
 */

import type { HostPort } from "../cli/address.ts";
import { type Clock, systemClock, type TimerHandle } from "../clock.ts";
import type { Diversion, DiversionOutcome } from "./serve_conn.ts";

/**
 * Response fields that describe the connection, not the body (RFC 9110
 * §7.6.1): the redirect server frames its own response.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Options of {@linkcode RedirectStore}. */
export interface RedirectStoreOptions {
  /** Base of `Location` (no trailing slash), e.g. `http://host:8081`. */
  baseUrl: string;
  /** How long an unclaimed body waits, in ms. @default {30000} */
  ttlMs?: number;
  /** Clock for the TTL timers. @default {systemClock} */
  clock?: Clock;
  /** Makes a key. @default {randomKey} */
  newKey?: () => string;
}

interface Entry {
  res: Response;
  timer: TimerHandle;
  settle(outcome: DiversionOutcome): void;
}

/**
 * A key of 128 random bits, base64url without padding (22 characters).
 * @returns the key
 *
 * @example
 * ```ts
 * import { randomKey } from "./redirect.ts";
 * if (!/^[A-Za-z0-9_-]{22}$/.test(randomKey())) throw new Error();
 * ```
 */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Bodies waiting for their consumer, by key.
 *
 * @example Divert a response, then claim it
 * ```ts
 * import { RedirectStore } from "./redirect.ts";
 * const store = new RedirectStore({ baseUrl: "http://worker:8081" });
 * const d = store.divert(new Response("big body"))!;
 * const location = d.response.headers.get("location")!;
 * const res = store.handler(new Request(location));
 * if (await res.text() !== "big body") throw new Error();
 * if ((await d.settled).outcome !== "delivered") throw new Error();
 * if (store.handler(new Request(location)).status !== 404) throw new Error();
 * ```
 */
export class RedirectStore {
  #baseUrl: string;
  #ttlMs: number;
  #clock: Clock;
  #newKey: () => string;
  #entries = new Map<string, Entry>();
  #unsettled = new Set<Promise<DiversionOutcome>>();

  /**
   * Creates an empty store.
   * @param options base URL, TTL, clock
   */
  constructor(options: RedirectStoreOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#clock = options.clock ?? systemClock;
    this.#newKey = options.newKey ?? randomKey;
  }

  /** The base of `Location`. */
  get baseUrl(): string {
    return this.#baseUrl;
  }

  /** Bodies waiting for their consumer now. */
  get waiting(): number {
    return this.#entries.size;
  }

  /**
   * Takes over a `200` response: keeps it under a new key and returns the
   * `303` for the hub. Any other status is left alone (null).
   * @param res the app's response
   * @returns the diversion, or null
   */
  divert(res: Response): Diversion | null {
    if (res.status !== 200) return null;
    const key = this.#newKey();
    const { promise: settled, resolve } = Promise.withResolvers<
      DiversionOutcome
    >();
    let done = false;
    const settle = (outcome: DiversionOutcome) => {
      if (done) return;
      done = true;
      resolve(outcome);
    };
    const drop = (outcome: string) => {
      const entry = this.#entries.get(key);
      if (!entry) return;
      this.#entries.delete(key);
      this.#clock.clearTimeout(entry.timer);
      // The app's stream sees `cancel`, so it can stop producing.
      res.body?.cancel(new Error(`redirected body ${outcome}`)).catch(
        () => {},
      );
      settle({ outcome, bytes: 0 });
    };
    const timer = this.#clock.setTimeout(() => drop("expired"), this.#ttlMs);
    this.#entries.set(key, { res, timer, settle });
    this.#unsettled.add(settled);
    settled.finally(() => this.#unsettled.delete(settled));
    return {
      response: new Response(null, {
        status: 303,
        headers: { location: `${this.#baseUrl}/${key}` },
      }),
      settled,
      cancel: () => drop("dropped"),
    };
  }

  /**
   * Answers a GET for a key (the last path segment): the app's status,
   * headers and streamed body, once; 404 for an unknown, used or expired
   * key; 405 for other methods.
   * @param req the consumer's request
   * @returns the response
   */
  handler(req: Request): Response {
    if (req.method !== "GET") {
      return new Response("method not allowed\n", {
        status: 405,
        headers: { allow: "GET", "content-type": "text/plain" },
      });
    }
    const path = new URL(req.url).pathname;
    const key = path.slice(path.lastIndexOf("/") + 1);
    const entry = this.#entries.get(key);
    if (!entry) {
      return new Response("not found (unknown, used or expired)\n", {
        status: 404,
        headers: { "content-type": "text/plain" },
      });
    }
    // Single use: the key is gone from now on, and so is the TTL.
    this.#entries.delete(key);
    this.#clock.clearTimeout(entry.timer);
    const { res, settle } = entry;
    const headers = new Headers();
    for (const [name, value] of res.headers) {
      if (!HOP_BY_HOP.has(name)) headers.append(name, value);
    }
    if (res.body === null) {
      settle({ outcome: "delivered", bytes: 0 });
      return new Response(null, { status: res.status, headers });
    }
    const reader = res.body.getReader();
    let bytes = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            c.close();
            settle({ outcome: "delivered", bytes });
            return;
          }
          bytes += value.length;
          c.enqueue(value);
        } catch (err) {
          c.error(err);
          settle({ outcome: "failed", bytes });
        }
      },
      cancel(reason) {
        // The consumer went away mid-body.
        settle({ outcome: "aborted", bytes });
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
    return new Response(body, {
      status: res.status,
      statusText: res.statusText,
      headers,
    });
  }

  /** Drops every waiting body (their streams see `cancel`). */
  dropAll(): void {
    for (const [key, entry] of [...this.#entries]) {
      this.#entries.delete(key);
      this.#clock.clearTimeout(entry.timer);
      entry.res.body?.cancel(new Error("redirect server stopped")).catch(
        () => {},
      );
      entry.settle({ outcome: "dropped", bytes: 0 });
    }
  }

  /** Resolves when every diverted body so far was delivered or dropped. */
  async settled(): Promise<void> {
    while (this.#unsettled.size > 0) {
      await Promise.all(this.#unsettled);
    }
  }
}

/** Options of {@linkcode serveRedirects}. */
export interface ServeRedirectsOptions {
  /** Where to listen (`--redirect-listen`). */
  listen: HostPort;
  /**
   * Base of `Location` (`--redirect-url`); null for `http://<host>:<port>`
   * with the bound port, and for the host the listening address when it is
   * a specific one, else `Deno.hostname()`. @default {null}
   */
  baseUrl?: string | null;
  /** How long an unclaimed body waits, in ms. @default {30000} */
  ttlMs?: number;
  /** Clock for the TTL timers. @default {systemClock} */
  clock?: Clock;
}

/** A running redirect server. */
export interface RedirectServer extends AsyncDisposable {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** The store; its `divert` is the worker's `Diverter`. */
  readonly store: RedirectStore;
  /**
   * Stops: waits for bodies being delivered, drops those never claimed,
   * and closes the port.
   */
  shutdown(): Promise<void>;
}

/**
 * The default base of `Location`: `http://<host>:<port>`.
 * @param addr the bound address
 * @returns the base URL
 */
export function defaultRedirectUrl(addr: Deno.NetAddr): string {
  const wildcard = addr.hostname === "0.0.0.0" || addr.hostname === "::" ||
    addr.hostname === "[::]";
  const host = wildcard ? Deno.hostname() : addr.hostname;
  return `http://${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
}

/**
 * Starts the redirect port.
 * @param options where to listen, the base URL, the TTL
 * @returns the running server
 *
 * @example
 * ```ts ignore
 * import { serveRedirects } from "./redirect.ts";
 * await using server = serveRedirects({ listen: { hostname: "127.0.0.1", port: 0 } });
 * console.log(server.store.baseUrl);
 * ```
 */
export function serveRedirects(options: ServeRedirectsOptions): RedirectServer {
  let store: RedirectStore | null = null;
  const server = Deno.serve({
    hostname: options.listen.hostname,
    port: options.listen.port,
    onListen: () => {},
  }, (req) =>
    store?.handler(req) ??
      new Response("starting\n", { status: 503 }));
  const addr = server.addr;
  store = new RedirectStore({
    baseUrl: options.baseUrl ?? defaultRedirectUrl(addr),
    ttlMs: options.ttlMs,
    clock: options.clock,
  });
  const ready = store;
  let stopping: Promise<void> | null = null;
  const shutdown = () => {
    stopping ??= (async () => {
      ready.dropAll();
      await ready.settled();
      await server.shutdown();
    })();
    return stopping;
  };
  return {
    addr,
    store: ready,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
