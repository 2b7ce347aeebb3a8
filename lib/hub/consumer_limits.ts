/**
 * Limits the hub checks on a consumer's request before it is queued, so that
 * a request a worker would refuse never costs a worker connection.
 *
 * `Deno.serve` already refuses heads it cannot parse (about 64 KiB, about 100
 * fields: 400), but the hub adds `X-Forwarded-*`, `X-Request-Id` and framing
 * fields on the way, and a worker reads the request with the codec's default
 * limits. A request that fits `Deno.serve` but not the worker would make
 * the worker drop its connection, the hub re-dispatch, and a second worker
 * drop its connection too: one request, two lost connections. The hub
 * answers such a request itself with 431 `headers-too-large` (RFC 6585 §5).
 *
 * @module
 */

/**
 * The worker's limits on a request head: the defaults of `RequestParser`
 * (`maxHeadBytes`, `maxFields`), which `serveConnection` uses.
 */
export const WORKER_HEAD_LIMITS = { maxHeadBytes: 65536, maxFields: 100 };

/** Fields the hub may add after this check: framing and `Connection`. */
const FIELDS_ADDED_LATER = 2;
/** Bytes of those fields at most (`transfer-encoding: chunked`, `content-length: <16 digits>`, `connection: close`). */
const BYTES_ADDED_LATER = 64;

/**
 * Why the head the hub would send to a worker is too large for it, or null
 * when it fits.
 *
 * @param method the request method
 * @param target the request target
 * @param headers the fields the hub forwards (without framing fields)
 * @returns a message naming the limit, or null
 *
 * @example
 * ```ts
 * import { forwardedHeadProblem } from "./consumer_limits.ts";
 * const many: [string, string][] = Array.from({ length: 150 }, (_, i) => [`x-${i}`, "v"]);
 * if (forwardedHeadProblem("GET", "/", many) === null) throw new Error();
 * if (forwardedHeadProblem("GET", "/", [["host", "a"]]) !== null) throw new Error();
 * ```
 */
export function forwardedHeadProblem(
  method: string,
  target: string,
  headers: readonly [string, string][],
): string | null {
  const fields = headers.length + FIELDS_ADDED_LATER;
  if (fields > WORKER_HEAD_LIMITS.maxFields) {
    return `request has ${headers.length} header fields with the hub's own; workers take at most ${
      WORKER_HEAD_LIMITS.maxFields - FIELDS_ADDED_LATER
    }`;
  }
  // "METHOD SP target SP HTTP/1.1 CRLF", "name: value CRLF" each, CRLF.
  let bytes = method.length + target.length + 12 + 2 + BYTES_ADDED_LATER;
  for (const [name, value] of headers) bytes += name.length + value.length + 4;
  if (bytes > WORKER_HEAD_LIMITS.maxHeadBytes) {
    return `request head would be ${bytes} bytes with the hub's fields; workers take at most ${WORKER_HEAD_LIMITS.maxHeadBytes}`;
  }
  return null;
}

/**
 * The length a `Content-Length` value declares. `Deno.serve` accepts a list
 * of identical values (`4, 4`, RFC 9110 §8.6) and refuses differing ones, so
 * the first element is the length; anything else is null (no declared
 * length: the body is streamed and counted).
 *
 * @param value the field value, or null
 * @returns the length, or null
 *
 * @example
 * ```ts
 * import { declaredLength } from "./consumer_limits.ts";
 * if (declaredLength("4, 4") !== 4 || declaredLength("12") !== 12) throw new Error();
 * if (declaredLength(null) !== null || declaredLength("x") !== null) throw new Error();
 * ```
 */
export function declaredLength(value: string | null): number | null {
  if (value === null) return null;
  const m = /^[ \t]*(\d{1,16})[ \t]*(?:,[ \t]*\d{1,16}[ \t]*)*$/.exec(value);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Why a request's `Transfer-Encoding` cannot be forwarded, or null. The hub
 * forwards bodies with `Content-Length` or plain `chunked` framing only:
 * `Deno.serve` takes `gzip, chunked` and hands on the body with only the
 * chunked coding removed, so a worker would receive gzip bytes with nothing
 * saying so (RFC 9112 §6.1: an unknown coding is not to be passed on as
 * content).
 *
 * @param value the field value, or null
 * @returns a message naming the coding, or null
 *
 * @example
 * ```ts
 * import { transferCodingProblem } from "./consumer_limits.ts";
 * if (transferCodingProblem("chunked") !== null) throw new Error();
 * if (transferCodingProblem("gzip, chunked") === null) throw new Error();
 * ```
 */
export function transferCodingProblem(value: string | null): string | null {
  if (value === null) return null;
  const codings = value.split(",").map((c) => c.trim().toLowerCase()).filter(
    (c) => c !== "",
  );
  const others = codings.filter((c) => c !== "chunked");
  if (others.length === 0) return null;
  return `transfer coding '${
    others.join(", ")
  }' is not supported: send the body with Content-Length or Transfer-Encoding: chunked only`;
}
