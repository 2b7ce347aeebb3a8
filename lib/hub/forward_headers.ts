/**
 * Which header fields cross the hub, in each direction, and what the hub adds.
 *
 * @module
 */

/**
 * Hop-by-hop fields: they describe one connection, not the message, so a
 * proxy must not forward them (RFC 9110 §7.6.1). Each entry says why it is
 * here.
 */
const HOP_BY_HOP = new Set([
  // Lists the other hop-by-hop fields of this connection (RFC 9110 §7.6.1).
  "connection",
  // Parameters of the persistent connection (RFC 9112 Appendix C.2.2).
  "keep-alive",
  // Non-standard twin of Connection sent by old clients; never end-to-end.
  "proxy-connection",
  // Credentials for a proxy, not for the worker (RFC 9110 §11.7.2).
  "proxy-authorization",
  // A proxy's challenge (RFC 9110 §11.7.1).
  "proxy-authenticate",
  // Transfer codings the client accepts on this hop (RFC 9110 §10.1.4).
  "te",
  // Names trailer fields of this hop's chunked framing (RFC 9110 §6.6.2).
  "trailer",
  // The framing of this hop; the hub frames each side itself (RFC 9112 §6.1).
  "transfer-encoding",
  // Protocol switch of this connection; the hub does not tunnel upgrades.
  "upgrade",
  // Deno.serve already answered `100 Continue` to the consumer; a worker that
  // saw it would send another interim response (RFC 9110 §10.1.1).
  "expect",
]);

/**
 * Whether a field (lower-case name) must not cross the hub.
 * @param lowerName the field name in lower case
 * @param connectionTokens lower-case tokens named by the Connection field
 * @returns true when the field is hop-by-hop
 */
export function isHopByHop(
  lowerName: string,
  connectionTokens?: ReadonlySet<string>,
): boolean {
  return HOP_BY_HOP.has(lowerName) ||
    (connectionTokens !== undefined && connectionTokens.has(lowerName));
}

/**
 * The lower-case tokens of every `Connection` field value.
 * @param value the combined field value, or null
 * @returns the set of tokens (empty when none)
 */
export function connectionTokens(value: string | null): Set<string> {
  const tokens = new Set<string>();
  if (!value) return tokens;
  for (const part of value.split(",")) {
    const t = part.trim().toLowerCase();
    if (t) tokens.add(t);
  }
  return tokens;
}

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * The request id to use: the consumer's `X-Request-Id` when it is a sane
 * value (printable, at most 200 bytes), else a new random one.
 * @param given the consumer's value, or null
 * @returns the id
 */
export function requestIdOf(given: string | null): string {
  return given !== null && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/** What the hub knows about the consumer's connection. */
export interface ForwardContext {
  /** The consumer's IP address. */
  clientAddress: string;
  /** `http` or `https`: how the consumer reached the hub. */
  proto: string;
  /** The request id (see {@linkcode requestIdOf}). */
  requestId: string;
}

/**
 * The header fields sent to the worker for a consumer's request: end-to-end
 * fields as they came, plus `X-Forwarded-For` (appended: a consumer can send
 * any value, so only the last entry — the one the hub adds — can be trusted),
 * `X-Forwarded-Proto` and `X-Forwarded-Host` (set by the hub, replacing what
 * the consumer sent), and `X-Request-Id`.
 *
 * @param headers the consumer's request headers
 * @param ctx the consumer's connection
 * @returns field pairs in order, without framing fields
 *
 * @example
 * ```ts
 * import { requestHeadersForWorker } from "./forward_headers.ts";
 * const pairs = requestHeadersForWorker(
 *   new Headers({ host: "example.com", connection: "close, x-secret", "x-secret": "1" }),
 *   { clientAddress: "10.0.0.1", proto: "http", requestId: "abc" },
 * );
 * if (pairs.some(([n]) => n === "x-secret" || n === "connection")) throw new Error();
 * ```
 */
export function requestHeadersForWorker(
  headers: Headers,
  ctx: ForwardContext,
): [string, string][] {
  const tokens = connectionTokens(headers.get("connection"));
  const out: [string, string][] = [];
  let forwardedFor: string | null = null;
  let host: string | null = null;
  // forEach, not for-of: Deno's Headers iterator costs several times more
  // per request (same entries, same order).
  headers.forEach((value, name) => {
    if (isHopByHop(name, tokens)) return;
    switch (name) {
      case "content-length":
        // Framing of the consumer's hop: the hub sets it from what it sends.
        return;
      case "x-forwarded-for":
        forwardedFor = value;
        return;
      case "x-forwarded-proto":
      case "x-forwarded-host":
      case "x-request-id":
        return;
      case "host":
        host = value;
    }
    out.push([name, value]);
  });
  out.push([
    "x-forwarded-for",
    forwardedFor ? `${forwardedFor}, ${ctx.clientAddress}` : ctx.clientAddress,
  ]);
  out.push(["x-forwarded-proto", ctx.proto]);
  if (host !== null) out.push(["x-forwarded-host", host]);
  out.push(["x-request-id", ctx.requestId]);
  return out;
}

/** What the hub adds to every response it forwards. */
export interface ResponseAdditions {
  /** `X-Request-Id` (replaces the worker's). */
  requestId: string;
  /** `Pothead-Worker`: the slot that served (replaces the worker's). */
  worker: string;
  /** `Server-Timing: queue;dur=…` (added to the worker's), in ms. */
  queueMs: number;
  /**
   * The body is handed on whole, as bytes: the worker's `Content-Length` is
   * left out, since `Deno.serve` writes one from the bytes (the same value:
   * the codec framed the body by it). @default {false}
   */
  wholeBody?: boolean;
}

/**
 * The header fields sent to the consumer for a worker's response: every
 * end-to-end field, in order (repeated fields such as `Set-Cookie` kept),
 * then `X-Request-Id`, `Pothead-Worker` and a `Server-Timing` entry for the
 * queue wait.
 *
 * Pairs, not a `Headers`: `new Response` copies its `headers` init into a
 * list of its own, so a `Headers` built here would be built twice.
 *
 * @param pairs the worker's response fields
 * @param add what the hub adds
 * @returns the consumer's fields, ready for `new Response(body, { headers })`
 *
 * @example
 * ```ts
 * import { responseHeadersForConsumer } from "./forward_headers.ts";
 * const out = responseHeadersForConsumer(
 *   [["Connection", "x-secret"], ["X-Secret", "1"], ["content-type", "text/plain"]],
 *   { requestId: "abc", worker: "w/1/0", queueMs: 0.5 },
 * );
 * const names = out.map(([n]) => n).join();
 * if (names !== "content-type,x-request-id,pothead-worker,server-timing") throw new Error(names);
 * ```
 */
export function responseHeadersForConsumer(
  pairs: readonly [string, string][],
  add: ResponseAdditions,
): [string, string][] {
  let tokens: Set<string> | undefined;
  for (const [name, value] of pairs) {
    if (name.length === 10 && name.toLowerCase() === "connection") {
      tokens ??= new Set();
      for (const t of connectionTokens(value)) tokens.add(t);
    }
  }
  const out: [string, string][] = [];
  const whole = add.wholeBody === true;
  for (const pair of pairs) {
    const lower = pair[0].toLowerCase();
    if (isHopByHop(lower, tokens) || REPLACED.has(lower)) continue;
    if (whole && lower === "content-length") continue;
    out.push(pair);
  }
  out.push(["x-request-id", add.requestId]);
  out.push(["pothead-worker", add.worker]);
  out.push(["server-timing", `queue;dur=${add.queueMs}`]);
  return out;
}

/** Fields of a worker's response that the hub sets itself. */
const REPLACED = new Set(["x-request-id", "pothead-worker"]);
