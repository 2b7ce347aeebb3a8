/**
 * A streaming HTTP/1.1 codec that does no I/O (RFC 9112): parsers that turn
 * bytes into head, data and end events, the chunked coding, and head
 * serializers. Adapters join it to `Deno.Conn`.
 *
 * @example Parse a request and answer it
 * ```ts
 * import { RequestParser, serializeResponseHead } from "./mod.ts";
 * const parser = new RequestParser();
 * const { events } = parser.feed(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
 * if (events[0].type !== "head") throw new Error();
 * const reply = serializeResponseHead({ status: 200, headers: [["Content-Length", "0"]] });
 * if (reply.length === 0) throw new Error();
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./head.ts";
export * from "./chunked.ts";
export * from "./parser.ts";
