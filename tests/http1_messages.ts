/**
 * Random HTTP/1.1 messages for property tests of the codec: arbitraries for
 * requests and responses (with Content-Length or chunked bodies), their wire
 * bytes, mutations of those bytes, and a driver that parses a byte stream
 * into messages the way a server or the hub would.
 *
 * @module
 */

import fc from "fast-check";
import { chunkHeader, LAST_CHUNK } from "../lib/http1/chunked.ts";
import { Http1ParseError } from "../lib/http1/errors.ts";
import {
  type HeaderPairs,
  serializeRequestHead,
  serializeResponseHead,
} from "../lib/http1/head.ts";
import { RequestParser, ResponseParser } from "../lib/http1/parser.ts";

/** A message as a test generates it and expects it back. */
export interface Message {
  /** Request method, or null for a response. */
  method: string | null;
  /** Request target, or the status for a response. */
  target: string;
  /** Status of a response (0 for requests). */
  status: number;
  /** End-to-end fields (framing fields are added by {@linkcode encode}). */
  headers: HeaderPairs;
  /** Body bytes. */
  body: Uint8Array;
  /** How the body is framed on the wire; chunk sizes for `chunked`. */
  framing: { kind: "length" } | { kind: "chunked"; sizes: number[] };
}

/** A message as the parser returned it. */
export interface Parsed {
  /** Method (requests) or null. */
  method: string | null;
  /** Target (requests) or the status as text. */
  target: string;
  /** Fields as parsed. */
  headers: HeaderPairs;
  /** Body bytes. */
  body: Uint8Array;
  /** Whether the connection may be reused after it. */
  keepAlive: boolean;
}

const tokenChars =
  "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A token (RFC 9110 §5.6.2). */
export const token: fc.Arbitrary<string> = fc.array(
  fc.constantFrom(...tokenChars),
  { minLength: 1, maxLength: 16 },
).map((cs) => cs.join(""));

/** A field value as the parser returns it (no surrounding OWS). */
export const fieldValue = (highBytes = true): fc.Arbitrary<string> =>
  fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
      {
        weight: highBytes ? 1 : 0,
        arbitrary: fc.integer({ min: 0x80, max: 0xff }),
      },
      { weight: 1, arbitrary: fc.constantFrom(0x20, 0x09) },
    ),
    { maxLength: 30 },
  ).map((codes) =>
    String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, "")
  );

const FRAMING = new Set(["content-length", "transfer-encoding", "connection"]);

/** End-to-end fields: no framing or connection fields. */
export const fields = (highBytes = true): fc.Arbitrary<HeaderPairs> =>
  fc.array(
    fc.tuple(
      token.filter((n) => !FRAMING.has(n.toLowerCase())),
      fieldValue(highBytes),
    ),
    { maxLength: 12 },
  ) as fc.Arbitrary<HeaderPairs>;

/** Methods every parser knows (http-parser-js takes only known ones). */
export const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

const target = fc.oneof(
  fc.constantFrom("/", "/a/b?c=d&e", "/x%20y", "/?q=1&r=%2F"),
  fc.array(
    fc.constantFrom(
      ..."abcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%",
    ),
    { minLength: 1, maxLength: 30 },
  ).map((cs) => "/" + cs.join("")),
);

const body = fc.uint8Array({ maxLength: 300 });

/** Splits `n` bytes into chunk sizes (each ≥ 1). */
const chunkSizes = (n: number): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 12 }).map(
    (cuts) => {
      const sizes: number[] = [];
      let left = n;
      for (const c of cuts) {
        if (left === 0) break;
        const s = Math.min(c, left);
        sizes.push(s);
        left -= s;
      }
      if (left > 0) sizes.push(left);
      return sizes;
    },
  );

const framed = (b: Uint8Array) =>
  fc.oneof(
    fc.constant({ kind: "length" as const }),
    chunkSizes(b.length).map((sizes) => ({ kind: "chunked" as const, sizes })),
  );

/**
 * A random request.
 * @param highBytes whether field values may hold obs-text bytes
 * @returns the arbitrary
 */
export const request = (highBytes = true): fc.Arbitrary<Message> =>
  fc.tuple(fc.constantFrom(...METHODS), target, fields(highBytes), body).chain(
    ([method, t, headers, b]) =>
      framed(b).map((framing): Message => ({
        method,
        target: t,
        status: 0,
        headers,
        body: b,
        framing,
      })),
  );

/**
 * A random final response to a GET, with a body.
 * @param highBytes whether field values may hold obs-text bytes
 * @returns the arbitrary
 */
export const response = (highBytes = true): fc.Arbitrary<Message> =>
  fc.tuple(
    fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
    fields(highBytes),
    body,
  ).chain(([status, headers, b]) =>
    framed(b).map((framing): Message => ({
      method: null,
      target: String(status),
      status,
      headers,
      body: b,
      framing,
    }))
  );

/**
 * The wire bytes of a message, and the fields the parser will report.
 * @param m the message
 * @returns bytes and the expected fields
 */
export function encode(
  m: Message,
): { bytes: Uint8Array; headers: HeaderPairs } {
  const headers: HeaderPairs = [...m.headers];
  if (m.framing.kind === "length") {
    headers.push(["Content-Length", String(m.body.length)]);
  } else headers.push(["Transfer-Encoding", "chunked"]);
  const head = m.method !== null
    ? serializeRequestHead({ method: m.method, target: m.target, headers })
    : serializeResponseHead({ status: m.status, headers });
  const parts: Uint8Array[] = [head];
  if (m.framing.kind === "length") parts.push(m.body);
  else {
    let off = 0;
    for (const size of m.framing.sizes) {
      parts.push(chunkHeader(size), m.body.subarray(off, off + size), CRLF);
      off += size;
    }
    parts.push(LAST_CHUNK);
  }
  return { bytes: concat(parts), headers };
}

const CRLF = new Uint8Array([13, 10]);

/**
 * Joins byte arrays.
 * @param parts the arrays
 * @returns one array
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Cuts bytes at the given points (taken modulo the length, sorted).
 * @param bytes the bytes
 * @param cuts cut points
 * @returns the pieces, in order
 */
export function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))]
    .sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** What parsing a byte stream came to. */
export interface ParseOutcome {
  /** Complete messages, in order. */
  messages: Parsed[];
  /** The error that ended parsing, or null. */
  error: unknown;
  /** Bytes of an incomplete message at the end (no error, no eof). */
  pending: boolean;
}

/**
 * Parses a byte stream delivered in `pieces` as a peer would: message after
 * message while the connection may be reused, then end of stream.
 *
 * @param kind `request` or `response` (responses answer GET)
 * @param pieces the stream, in pieces
 * @param options `eof`: signal end of stream after the last piece @default {true}
 * @returns the messages and how it ended
 */
export function parseStream(
  kind: "request" | "response",
  pieces: Uint8Array[],
  options: { eof?: boolean } = {},
): ParseOutcome {
  const parser = kind === "request"
    ? new RequestParser()
    : new ResponseParser();
  if (parser instanceof ResponseParser) parser.expect("GET");
  const messages: Parsed[] = [];
  let current: Parsed | null = null;
  let body: Uint8Array[] = [];
  const queue = [...pieces];
  try {
    while (queue.length > 0) {
      const piece = queue.shift()!;
      if (piece.length === 0) continue;
      const { events, remaining } = parser.feed(piece);
      for (const ev of events) {
        if (ev.type === "head") {
          const h = ev.head;
          current = {
            method: "method" in h ? h.method : null,
            target: "method" in h ? h.target : String(h.status),
            headers: h.headers,
            body: new Uint8Array(0),
            keepAlive: ev.keepAlive,
          };
          body = [];
        } else if (ev.type === "data") body.push(ev.data.slice());
        else {
          current!.body = concat(body);
          messages.push(current!);
          current = null;
        }
      }
      if (remaining) {
        if (messages.length > 0 && !messages[messages.length - 1].keepAlive) {
          // A peer may not send after a message that ends the connection.
          return {
            messages,
            error: "bytes after the last message",
            pending: false,
          };
        }
        parser instanceof ResponseParser
          ? parser.expect("GET")
          : parser.reset();
        queue.unshift(remaining);
      }
    }
    if (options.eof ?? true) {
      for (const ev of parser.eof()) {
        if (ev.type === "data") body.push(ev.data.slice());
        else if (ev.type === "end" && current) {
          current.body = concat(body);
          messages.push(current);
          current = null;
        }
      }
    }
  } catch (err) {
    return { messages, error: err, pending: false };
  }
  return {
    messages,
    error: null,
    pending: current !== null || parser.state === "head",
  };
}

/**
 * Whether an error is one the codec may throw: an {@linkcode Http1ParseError}
 * with a non-empty message.
 * @param err the error
 * @returns true for a clean parse error
 */
export function isCleanParseError(err: unknown): boolean {
  return err instanceof Http1ParseError && err instanceof SyntaxError &&
    typeof err.code === "string" && err.message.length > 0;
}

/** Byte strings that make mutations likely to hit parser edge cases. */
const SPECIALS = [
  "\r",
  "\n",
  "\r\n",
  "\r\n\r\n",
  ":",
  " ",
  "\t",
  "\0",
  "0",
  "f",
  ";",
  ",",
  "\x7f",
  "\xff",
  "chunked",
  "Content-Length: 5\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Connection: close\r\n",
  "HTTP/1.1 ",
  "GET / HTTP/1.1\r\n",
  "ffffffffffffffff",
  "99999999999999999999",
].map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0)));

/** One edit of a byte string. */
export type Mutation =
  | { op: "flip"; at: number; value: number }
  | { op: "insert"; at: number; special: number }
  | { op: "delete"; at: number; length: number }
  | { op: "duplicate"; at: number; length: number }
  | { op: "truncate"; at: number };

/** A random edit. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant("flip" as const),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    special: fc.nat({ max: SPECIALS.length - 1 }),
  }),
  fc.record({
    op: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    op: fc.constant("duplicate" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
);

/**
 * Applies edits in order.
 * @param bytes the original
 * @param edits the edits (positions taken modulo the length)
 * @returns the edited bytes (a new array)
 */
export function mutate(bytes: Uint8Array, edits: Mutation[]): Uint8Array {
  let b: Uint8Array = bytes.slice();
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % (b.length + 1);
    switch (e.op) {
      case "flip":
        if (at < b.length) b[at] = e.value;
        break;
      case "insert":
        b = concat([b.subarray(0, at), SPECIALS[e.special], b.subarray(at)]);
        break;
      case "delete":
        b = concat([b.subarray(0, at), b.subarray(at + e.length)]);
        break;
      case "duplicate":
        b = concat([
          b.subarray(0, at + e.length),
          b.subarray(at, at + e.length),
          b.subarray(at + e.length),
        ]);
        break;
      case "truncate":
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}
