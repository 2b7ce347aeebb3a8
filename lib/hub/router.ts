/**
 * Which pool a consumer request goes to, in which priority class, and under
 * which fairness key (issue 8).
 *
 * Routes are tried in file order and the first match wins. A route matches
 * when its host pattern matches the request's host and its path is a prefix
 * of the request's path:
 *
 * - Hosts are compared without case, without the port and without a
 *   trailing dot, so `Thumbs.Example.COM:8080` and `thumbs.example.com.`
 *   route alike (a case-sensitive match sent users' reloads to the wrong
 *   backend in `seeds/002_266277a6d9b7d3d4.txt`). IPv6 literals keep their
 *   brackets: `[::1]:8080` is host `[::1]`.
 * - `*.example.com` matches one or more labels in front of `.example.com`
 *   (`a.example.com`, `a.b.example.com`) but not `example.com` itself, as in
 *   nginx's `server_name`; add a second route for the bare name.
 * - A route without a host matches every request, also one without a
 *   `Host` header; a route with a host never matches such a request.
 * - The path prefix is compared as plain, case-sensitive text with the path
 *   alone (anything from `?` or `#` on is ignored).
 *
 * Patterns are lowercased once, when the router is built; a match costs one
 * lowercasing of the request's host and a string comparison per route tried.
 *
 * @module
 */

import {
  type HubConfig,
  MAX_PRIORITY,
  MIN_PRIORITY,
  type RouteSpec,
} from "../config/config.ts";

/** The request header a consumer may set its priority class with. */
export const PRIORITY_HEADER = "pothead-priority";

/** The outcome of {@linkcode Router.match}. */
export interface RouteMatch {
  /** The pool the request goes to. */
  readonly pool: string;
  /** The route that matched; `null` when the request fell to `defaultPool`. */
  readonly route: RouteSpec | null;
}

interface CompiledRoute {
  /** The exact host, or null. */
  readonly exact: string | null;
  /** For `*.example.com`: `.example.com`; otherwise null. */
  readonly suffix: string | null;
  readonly path: string;
  readonly result: RouteMatch;
}

/**
 * Matches requests to pools by host and path prefix, first match in file
 * order. Build a new one for each configuration (live reload); a router
 * never changes.
 *
 * @example Route by host and by path
 * ```ts
 * import { Router } from "./router.ts";
 * import { parseConfig } from "../config/config.ts";
 *
 * const config = parseConfig(`{
 *   "pools": { "thumbnails": {}, "video": {} },
 *   "routes": [
 *     { "host": "*.thumbs.example.com", "pool": "thumbnails" },
 *     { "path": "/video/", "pool": "video" },
 *   ],
 * }`, { maxQueue: 1000, queueTimeoutMs: 30_000, responseTimeoutMs: 300_000 });
 * const router = new Router(config);
 *
 * if (router.match("EU.Thumbs.Example.com:8443", "/a.png")?.pool !== "thumbnails") throw new Error();
 * if (router.match("example.com", "/video/1?t=3")?.pool !== "video") throw new Error();
 * if (router.match("example.com", "/other") !== null) throw new Error("expected 404 no-route");
 * ```
 */
export class Router {
  readonly #routes: CompiledRoute[];
  readonly #fallback: RouteMatch | null;

  /**
   * Compiles the routes of a configuration.
   *
   * @param config a configuration from `parseConfig`, `loadConfigFile` or
   *   `defaultConfig`
   */
  constructor(config: HubConfig) {
    this.#routes = config.routes.map((route) => {
      const host = route.host === null ? null : normalizeHost(route.host);
      const wildcard = host !== null && host.startsWith("*.");
      return {
        exact: wildcard ? null : host,
        suffix: wildcard ? host!.slice(1) : null,
        path: route.path,
        result: Object.freeze({ pool: route.pool, route }),
      };
    });
    this.#fallback = config.defaultPool === null
      ? null
      : Object.freeze({ pool: config.defaultPool, route: null });
  }

  /**
   * Finds the pool for a request.
   *
   * @param host the `Host` header (or the authority of an absolute URL) as
   *   received, port and all; `null` when the request has none
   * @param path the request path, e.g. `new URL(req.url).pathname`; a query
   *   or fragment is ignored
   * @returns the first matching route's pool, else the default pool, else
   *   `null` (answer 404 `no-route`); the same object for every request
   *   the same route matches
   */
  match(host: string | null, path: string): RouteMatch | null {
    const h = normalizeHost(host);
    let p = path;
    const q = p.search(/[?#]/);
    if (q >= 0) p = p.slice(0, q);
    for (const r of this.#routes) {
      if (r.exact !== null) {
        if (h !== r.exact) continue;
      } else if (r.suffix !== null) {
        if (
          h === null || h.length <= r.suffix.length || !h.endsWith(r.suffix)
        ) continue;
      }
      if (p.startsWith(r.path)) return r.result;
    }
    return this.#fallback;
  }
}

/**
 * Reduces a `Host` value to what routes compare: lowercase, without the port
 * and without a trailing dot. IPv6 literals keep their brackets.
 *
 * @param host the header value, or `null`
 * @returns the host name, or `null` when there is none
 *
 * @example
 * ```ts
 * import { normalizeHost } from "./router.ts";
 * if (normalizeHost("Thumbs.Example.COM.:8080") !== "thumbs.example.com") throw new Error();
 * if (normalizeHost("[::1]:8080") !== "[::1]") throw new Error();
 * ```
 */
export function normalizeHost(host: string | null): string | null {
  if (host === null) return null;
  let h = host.trim();
  if (h.charCodeAt(0) === 0x5b) { // '[': an IPv6 literal
    const end = h.indexOf("]");
    if (end > 0) h = h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(":");
    // One colon: a port. More: an unbracketed IPv6 address, kept whole.
    if (colon >= 0 && h.indexOf(":", colon + 1) < 0) h = h.slice(0, colon);
  }
  if (h.endsWith(".")) h = h.slice(0, -1);
  return h === "" ? null : h.toLowerCase();
}

/**
 * The priority class of a request: the route's, or the `Pothead-Priority`
 * header's when the route allows it. The header must be an integer
 * (`"5"`, `"-3"`, `"+2"`); it is clamped to [-100, 100]; anything else is
 * ignored and the route's priority holds.
 *
 * @param route the matched route; `null` (the default pool) gives 0 and
 *   ignores the header
 * @param headerValue the `Pothead-Priority` header, or `null`
 * @returns the class, an integer in [-100, 100]
 *
 * @example
 * ```ts
 * import { requestPriority, PRIORITY_HEADER } from "./router.ts";
 * import type { RouteSpec } from "../config/config.ts";
 * const route: RouteSpec = {
 *   index: 1, line: 1, host: null, path: "/", pool: "p",
 *   priority: 1, allowPriorityHeader: true, fairnessKey: null,
 * };
 * const headers = new Headers({ [PRIORITY_HEADER]: "250" });
 * if (requestPriority(route, headers.get(PRIORITY_HEADER)) !== 100) throw new Error();
 * if (requestPriority(route, "soon") !== 1) throw new Error();
 * ```
 */
export function requestPriority(
  route: RouteSpec | null,
  headerValue: string | null,
): number {
  if (route === null) return 0;
  if (!route.allowPriorityHeader || headerValue === null) return route.priority;
  if (!/^\s*[+-]?\d+\s*$/.test(headerValue)) return route.priority;
  const n = Number(headerValue) || 0; // "-0" is 0
  return n < MIN_PRIORITY ? MIN_PRIORITY : n > MAX_PRIORITY ? MAX_PRIORITY : n;
}

/**
 * The fairness key of a request, for `PoolQueue.push`.
 *
 * - No route, or a route without `fairnessKey`: `""`, one key shared by all.
 * - `header:<name>`: `"<name>=<value>"`; a missing or empty header gives
 *   `""`. A client can choose this value: use it behind a proxy that sets
 *   the header.
 * - `client-address`: `"addr=<address>"`, IPv6 addresses grouped by their
 *   /64 prefix (one client usually holds a whole /64), IPv4-mapped IPv6 as
 *   IPv4.
 *
 * @param route the matched route, or `null` for the default pool
 * @param headers the request's headers
 * @param clientAddress the consumer's address (the connection's peer, not
 *   `X-Forwarded-For`)
 * @returns the key
 *
 * @example
 * ```ts
 * import { fairnessKeyOf } from "./router.ts";
 * import type { RouteSpec } from "../config/config.ts";
 * const route: RouteSpec = {
 *   index: 1, line: 1, host: null, path: "/", pool: "p", priority: 0,
 *   allowPriorityHeader: false, fairnessKey: { kind: "header", header: "x-tenant" },
 * };
 * const key = fairnessKeyOf(route, new Headers({ "X-Tenant": "acme" }), "10.0.0.1");
 * if (key !== "x-tenant=acme") throw new Error(key);
 * ```
 */
export function fairnessKeyOf(
  route: RouteSpec | null,
  headers: Headers,
  clientAddress: string,
): string {
  const source = route?.fairnessKey ?? null;
  if (source === null) return "";
  if (source.kind === "header") {
    const value = headers.get(source.header);
    return value ? `${source.header}=${value}` : "";
  }
  return `addr=${clientAddressKey(clientAddress)}`;
}

/**
 * Groups a client address for fairness: IPv4 as it is, IPv4-mapped IPv6 as
 * IPv4, other IPv6 addresses by their /64 prefix (`2001:db8:0:1::/64`),
 * without brackets or a zone. Text that is not an address is returned as
 * it is.
 *
 * @param address the peer address, e.g. `Deno.NetAddr.hostname`
 * @returns the group
 *
 * @example
 * ```ts
 * import { clientAddressKey } from "./router.ts";
 * if (clientAddressKey("2001:db8::1") !== "2001:db8:0:0::/64") throw new Error();
 * if (clientAddressKey("::ffff:192.0.2.7") !== "192.0.2.7") throw new Error();
 * ```
 */
export function clientAddressKey(address: string): string {
  let a = address;
  if (a.charCodeAt(0) === 0x5b) { // '['
    const end = a.indexOf("]");
    a = a.slice(1, end > 0 ? end : undefined);
  }
  if (!a.includes(":")) return a;
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  a = a.toLowerCase();
  const groups = ipv6Groups(a);
  if (groups === null) return a;
  if (
    groups.length === 6 && groups[5] === "ffff" &&
    groups.slice(0, 5).every((g) => g === "0")
  ) {
    return a.slice(a.lastIndexOf(":") + 1); // ::ffff:192.0.2.7
  }
  return `${groups.slice(0, 4).join(":")}::/64`;
}

/**
 * The 16-bit groups of an IPv6 address as short hex text (eight, or six
 * before a trailing dotted quad); null when the text is not an address.
 */
function ipv6Groups(a: string): string[] | null {
  const gap = a.indexOf("::");
  if (gap >= 0 && a.indexOf("::", gap + 1) >= 0) return null;
  const split = (s: string) => s === "" ? [] : s.split(":");
  const head = gap >= 0 ? split(a.slice(0, gap)) : a.split(":");
  const tail = gap >= 0 ? split(a.slice(gap + 2)) : [];
  // A trailing dotted quad stands for the last two groups.
  const parts = [...head, ...tail];
  let count = parts.length;
  const last = parts[parts.length - 1];
  if (last !== undefined && last.includes(".")) count++;
  const missing = 8 - count;
  if (gap < 0 ? missing !== 0 : missing < 1) return null;
  const all = [
    ...head,
    ...Array<string>(gap >= 0 ? missing : 0).fill("0"),
    ...tail,
  ];
  const out: string[] = [];
  for (const g of all) {
    if (g.includes(".")) break; // the IPv4 part: not in the /64 prefix
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    out.push(parseInt(g, 16).toString(16));
  }
  return out;
}
