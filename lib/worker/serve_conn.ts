/**
 * The worker's side of a hub connection after the handshake: the worker is
 * the HTTP/1.1 server, the hub the client. Answers `OPTIONS *` probes itself,
 * passes every other request to the app, and aborts the app's `req.signal`
 * when the hub closes the connection during the job (the consumer went away).
 *
 * @module
 */

import { allocBytes } from "../http1/chars.ts";
import { encodeChunk, LAST_CHUNK } from "../http1/chunked.ts";
import { type RequestHead, serializeResponseHead } from "../http1/head.ts";
import { RequestParser } from "../http1/parser.ts";
import { BufferPool } from "../net/buffer_pool.ts";
import {
  BODY_READ_SIZE,
  concatBytes,
  type ConnReader,
  HEAD_READ_SIZE,
  writeAll,
} from "../net/conn_reader.ts";
import type { JobInfo, PotheadApp } from "./app.ts";

/** What one served job looked like, for logs and metrics. */
export interface JobRecord {
  /** Request id. */
  id: string;
  /** Method. */
  method: string;
  /** Path and query. */
  target: string;
  /** Status sent. */
  status: number;
  /** Milliseconds from the request head to the end of the response. */
  ms: number;
  /** Response body bytes written. */
  bytesOut: number;
  /** Set when the job ended early: `aborted` (the hub closed), `app-error`. */
  error?: string;
  /**
   * Set when the response was diverted (`--redirect-response`): how its
   * body ended (`delivered`, `expired`, `aborted`, `failed`, `dropped`).
   */
  redirect?: string;
}

/** How a diverted body ended, and how many of its bytes were sent. */
export interface DiversionOutcome {
  /** `delivered`, `expired`, `aborted` (consumer left), `failed`, `dropped`. */
  outcome: string;
  /** Body bytes sent to the consumer. */
  bytes: number;
}

/** A response taken over by a {@linkcode Diverter}. */
export interface Diversion {
  /** What the hub gets instead (a `303 See Other`). */
  response: Response;
  /** Resolves when the original body was delivered or dropped. */
  settled: Promise<DiversionOutcome>;
  /** Drops the body now: the replacement could not be sent. */
  cancel(): void;
}

/**
 * Takes over some responses (`--redirect-response`): returns a replacement
 * for the hub, or null to send the response as it is.
 */
export type Diverter = (res: Response) => Diversion | null;

/** How a connection is served. */
export interface ServeOptions {
  /** The app. */
  app: PotheadApp;
  /** Filled in per job. */
  info: Omit<JobInfo, "requestId" | "consumerAddress">;
  /** Serve one job, then close (`--poll-jobs`, or draining). */
  oneJob: () => boolean;
  /** A job's request head arrived (the slot is busy). */
  onJobStart?(req: Request): void;
  /** A job ended. */
  onJobEnd?(record: JobRecord): void;
  /** The connection is waiting for a request (the slot is idle). */
  onIdle?(): void;
  /**
   * May take over a response (`--redirect-response`). A diverted job closes
   * the connection after the replacement and ends (`onJobEnd`) only when
   * the body was delivered or dropped, so the slot stays busy till then.
   * @default {undefined}
   */
  divert?: Diverter;
  /**
   * Many hubs (issue 7): called when a job's request head arrived, before
   * the app sees it. False means the slot this connection belongs to has
   * just taken another hub's job: the request is declined with `503` and
   * `Pothead-Declined: busy`, the connection closed, and the hub queues the
   * request again. @default {undefined} (every job is taken)
   */
  claim?(): boolean;
  /**
   * The app threw (or returned something that is not a `Response`) on a job
   * that was not aborted; the job is answered with 500 and the slot lives
   * on. @default {undefined} (the error is dropped; the job line says
   * `error=app-error`)
   */
  onAppError?(err: unknown, method: string, target: string): void;
}

const encoder = new TextEncoder();
const PROBE_ANSWER = encoder.encode("HTTP/1.1 204 No Content\r\n\r\n");
/** The go-ahead for a body the hub holds back (RFC 9110 §10.1.1). */
const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
/** A decline: the slot is busy with another hub's job (issue 7). */
const DECLINE = encoder.encode(
  "HTTP/1.1 503 Service Unavailable\r\nPothead-Declined: busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
);
/** After a decline, how long and how much the worker reads before closing. */
const LINGER_MS = 2000;
const LINGER_BYTES = 256 * 1024;
/** Unread request body the worker discards to keep the connection. */
const DRAIN_LIMIT = 1024 * 1024;

/** Response fields the worker sets itself (framing and connection). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-connection",
  "content-length",
]);

/**
 * Buffers for the read that brings a request head (the one pending while
 * the slot is idle or a job runs): the head is decoded and body bytes are
 * copied out before the buffer goes back, so a connection does not allocate
 * a fresh 16 KiB buffer per job (issue 6: allocation and GC).
 */
const HEAD_BUFFERS = new BufferPool(HEAD_READ_SIZE, 64);

/** The request fields the worker itself reads, found in one pass. */
interface Fields {
  host: string | null;
  requestId: string | null;
  forwardedFor: string | null;
  expect: string | null;
}

function fieldsOf(head: RequestHead): Fields {
  const f: Fields = {
    host: null,
    requestId: null,
    forwardedFor: null,
    expect: null,
  };
  for (const [n, v] of head.headers) {
    // Lengths first: most fields are none of these, and are not lowercased.
    switch (n.length) {
      case 4:
        if (f.host === null && n.toLowerCase() === "host") f.host = v;
        break;
      case 6:
        if (f.expect === null && n.toLowerCase() === "expect") f.expect = v;
        break;
      case 12:
        if (f.requestId === null && n.toLowerCase() === "x-request-id") {
          f.requestId = v;
        }
        break;
      case 15:
        if (
          f.forwardedFor === null && n.toLowerCase() === "x-forwarded-for"
        ) f.forwardedFor = v;
        break;
    }
  }
  return f;
}

/**
 * Serves requests on one connection until it closes, the hub asks to close,
 * or `oneJob()` says to stop after a job.
 *
 * @param conn the connection (after the handshake)
 * @param reader its reader (it may hold bytes that followed the handshake)
 * @param options the app and callbacks
 * @returns `closed` when the hub closed or misbehaved, `done` when the worker ended it after a job, `declined` when `claim()` refused a job
 */
export async function serveConnection(
  conn: Deno.Conn,
  reader: ConnReader,
  options: ServeOptions,
): Promise<"closed" | "done" | "declined"> {
  const parser = new RequestParser();
  let pending: Promise<Uint8Array | null> | null = null;
  /** The pooled buffer the last {@linkcode readHead} result is a view of. */
  let held: Uint8Array | null = null;
  const giveBack = () => {
    if (held) HEAD_BUFFERS.give(held);
    held = null;
  };
  // The read that brings the next request head, into a pooled buffer (or
  // the bytes put back after the last message).
  const readHead = async (): Promise<Uint8Array | null> => {
    if (reader.buffered) return reader.read();
    const r = await HEAD_BUFFERS.read(conn);
    if (r === null) return null;
    held = r.buf;
    return r.buf.subarray(0, r.n);
  };
  const next = () => {
    const p = pending;
    pending = null;
    return p ?? readHead();
  };
  for (;;) {
    parser.reset();
    options.onIdle?.();
    // Read the head of the next request.
    let head: RequestHead | null = null;
    let keepAlive = true;
    let hasBody = false;
    let sawEnd = false;
    let initial: Uint8Array[] | null = null;
    try {
      while (!head) {
        const chunk = await next();
        if (chunk === null) return "closed";
        const pooled = held !== null;
        try {
          const r = parser.feed(chunk);
          // What outlives this read is copied: the buffer goes back below,
          // and the next read (this connection's own, while the job runs)
          // may take it.
          if (r.remaining) {
            reader.unread(pooled ? r.remaining.slice() : r.remaining);
          }
          for (const ev of r.events) {
            if (ev.type === "head") {
              head = ev.head;
              keepAlive = ev.keepAlive;
              hasBody = ev.framing.kind !== "none";
            } else if (ev.type === "data") {
              (initial ??= []).push(pooled ? ev.data.slice() : ev.data);
            } else sawEnd = true;
          }
        } finally {
          giveBack();
        }
      }
    } catch {
      // A malformed request from the hub, or a reset: nothing to answer.
      return "closed";
    }

    if (head.method === "OPTIONS" && head.target === "*") {
      // The hub's liveness probe: answered here, never passed to the app.
      await writeAll(conn, PROBE_ANSWER).catch(() => {});
      continue;
    }

    const start = performance.now();
    const abort = new AbortController();
    if (options.claim && !options.claim()) {
      await decline(conn, reader);
      return "declined";
    }

    const fields = fieldsOf(head);
    let bodyEnded = !hasBody || sawEnd;
    if (!bodyEnded && expectsContinue(fields.expect)) {
      // The hub holds the body back until the slot has taken the job.
      await writeAll(conn, CONTINUE).catch(() => {});
    }
    let connClosed = false;
    // Set once a diverted response went out: from then on the body belongs
    // to the redirect consumer, and the hub closing its end (as it will,
    // after `Connection: close`) must not abort the app's request.
    let detached = false;

    // Watches the connection once the request body is read: the hub sends
    // nothing more during a job, so an end of stream means the consumer went
    // away (DESIGN.md, worker channel item 5). Bytes that do arrive are kept
    // for the next request.
    const watch = () => {
      const p = readHead().then(
        (chunk) => {
          if (chunk === null) {
            connClosed = true;
            if (!detached) {
              abort.abort(
                new DOMException("the hub closed the connection", "AbortError"),
              );
            }
          }
          return chunk;
        },
        () => {
          connClosed = true;
          if (!detached) {
            abort.abort(
              new DOMException("the hub connection failed", "AbortError"),
            );
          }
          return null;
        },
      );
      pending = p;
    };

    let body: ReadableStream<Uint8Array> | null = null;
    /** The body, when all of it came with the head. */
    let whole: Uint8Array<ArrayBuffer> | null = null;
    if (
      hasBody && bodyEnded && head.method !== "GET" && head.method !== "HEAD"
    ) {
      // Handed to the Request as bytes: the app reads the same body, and
      // no stream is built for it (the common small upload; issue 6).
      // (Read buffers are plain ArrayBuffers, never shared ones.)
      whole = initial === null
        ? new Uint8Array(0)
        : concatBytes(initial) as Uint8Array<ArrayBuffer>;
    } else if (hasBody && head.method !== "GET" && head.method !== "HEAD") {
      body = new ReadableStream<Uint8Array>({
        start(c) {
          if (initial) { for (const d of initial) c.enqueue(d); }
        },
        async pull(c) {
          try {
            for (;;) {
              const chunk = await reader.read(BODY_READ_SIZE);
              if (chunk === null) {
                parser.eof();
                throw new Error("connection closed during the request body");
              }
              const r = parser.feed(chunk);
              if (r.remaining) reader.unread(r.remaining);
              let got = false;
              for (const ev of r.events) {
                if (ev.type === "data") {
                  c.enqueue(ev.data);
                  got = true;
                } else if (ev.type === "end") {
                  bodyEnded = true;
                  c.close();
                  watch();
                  return;
                }
              }
              if (got) return;
            }
          } catch (err) {
            connClosed = true;
            abort.abort(err);
            c.error(err);
          }
        },
      });
    }
    if (bodyEnded) watch();

    const url = head.target.startsWith("/")
      ? `http://${fields.host ?? "localhost"}${head.target}`
      : head.target;
    const requestId = fields.requestId ?? "";
    const xff = fields.forwardedFor;
    const consumerAddress = xff
      ? xff.slice(xff.lastIndexOf(",") + 1).trim()
      : "";
    let req: Request;
    try {
      req = new Request(url, {
        method: head.method,
        body: whole ?? body,
        signal: abort.signal,
      });
      // Appended one by one rather than given to the constructor: the same
      // checks and list, without WebIDL's conversion of a sequence of pairs
      // (about 4 KiB of garbage and a microsecond per request; issue 6).
      const headers = req.headers;
      for (const [name, value] of head.headers) headers.append(name, value);
    } catch (err) {
      await writeResponse(
        conn,
        new Response(
          `bad request: ${err instanceof Error ? err.message : err}\n`,
          { status: 400 },
        ),
        head.method,
        true, // the connection ends here: say so (RFC 9112 §9.6)
      ).catch(() => {});
      return "closed";
    }
    options.onJobStart?.(req);
    const info: JobInfo = { ...options.info, requestId, consumerAddress };

    let res: Response;
    let error: string | undefined;
    try {
      res = await options.app.fetch(req, info);
      if (!(res instanceof Response)) {
        throw new TypeError("the app's fetch did not return a Response");
      }
    } catch (err) {
      error = abort.signal.aborted ? "aborted" : "app-error";
      if (!abort.signal.aborted) {
        options.onAppError?.(err, head.method, head.target);
      }
      res = new Response("internal error in the worker's app\n", {
        status: 500,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }

    let close = !keepAlive || options.oneJob();
    let bytesOut = 0;
    let diversion: Diversion | null = null;
    if (!connClosed && !error && head.method !== "HEAD" && options.divert) {
      diversion = options.divert(res);
      if (diversion) {
        res = diversion.response;
        // The hub must not dispatch here while the body waits for its
        // consumer: closing takes the slot out of the hub's idle set.
        close = true;
      }
    }
    if (connClosed) {
      await res.body?.cancel().catch(() => {});
    } else {
      if (!bodyEnded) {
        // The app did not read the whole body. Discard a little to keep the
        // connection; beyond that, closing is cheaper than reading.
        close = close || !(await drainBody(body, DRAIN_LIMIT));
      }
      try {
        bytesOut = await writeResponse(conn, res, head.method, close);
        detached = diversion !== null;
      } catch {
        connClosed = true;
        error ??= "write-failed";
        diversion?.cancel();
      }
    }
    let redirect: string | undefined;
    if (diversion) {
      // Nothing more is read from the hub: it closes after our
      // `Connection: close`, and that is no reason to abort the app.
      const settled = await diversion.settled;
      redirect = settled.outcome;
      bytesOut = settled.bytes;
    }
    options.onJobEnd?.({
      id: requestId,
      method: head.method,
      target: head.target,
      status: res.status,
      ms: performance.now() - start,
      bytesOut,
      error: error ?? (connClosed && !detached ? "aborted" : undefined),
      redirect,
    });
    if (connClosed && !detached) return "closed";
    if (close) return "done";
  }
}

function expectsContinue(expect: string | null): boolean {
  return expect !== null && expect.trim().toLowerCase() === "100-continue";
}

/**
 * Declines a job and closes in stages (RFC 9112 §9.6): the answer, then the
 * sending side, then whatever the hub had already sent (at most a small
 * body) is read and dropped until it closes, so that the close does not
 * reset the connection before the hub has read the `503`.
 */
async function decline(conn: Deno.Conn, reader: ConnReader): Promise<void> {
  try {
    await writeAll(conn, DECLINE);
    await conn.closeWrite();
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, LINGER_MS);
  try {
    let n = 0;
    while (n < LINGER_BYTES) {
      const chunk = await reader.read();
      if (chunk === null) break;
      n += chunk.length;
    }
  } catch {
    // Closed by the timer, or reset: either way the decline was sent.
  } finally {
    clearTimeout(timer);
  }
}

async function drainBody(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<boolean> {
  if (!body || body.locked) return false;
  const r = body.getReader();
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await r.read();
      if (done) return true;
      n += value.length;
      if (n > limit) {
        await r.cancel();
        return false;
      }
    }
  } catch {
    return false;
  }
}

/** What {@linkcode writeResponse} sees when the app's next chunk is not there yet. */
const NOT_YET: unique symbol = Symbol("not yet");
const notYet = Promise.resolve(NOT_YET);

/**
 * Writes a response: head and a one-chunk body that has already ended in
 * one write with a `Content-Length`; other bodies stream as the app produces
 * them, with the app's `Content-Length`, or chunked.
 * @returns body bytes written
 */
async function writeResponse(
  conn: Deno.Conn,
  res: Response,
  method: string,
  close: boolean,
): Promise<number> {
  const headers: [string, string][] = [];
  let declared = null as string | null;
  // forEach, not the iterator: the same pairs (Set-Cookie kept apart) for a
  // fraction of the cost.
  res.headers.forEach((value, name) => {
    if (HOP_BY_HOP.has(name)) {
      if (name === "content-length") declared = value;
    } else headers.push([name, value]);
  });
  if (close) headers.push(["connection", "close"]);
  const status = res.status;
  const noBody = method === "HEAD" || status === 204 || status === 304 ||
    status < 200;
  const head = (extra: [string, string] | null) => {
    if (extra) headers.push(extra);
    return serializeResponseHead({ status, reason: res.statusText, headers });
  };
  if (noBody || res.body === null) {
    await res.body?.cancel().catch(() => {});
    const length = noBody ? declared : "0";
    await writeAll(
      conn,
      head(
        length !== null && status !== 204 && status !== 304
          ? ["content-length", length]
          : null,
      ),
    );
    return 0;
  }
  const reader = res.body.getReader();
  const first = await reader.read();
  if (first.done) {
    await writeAll(conn, head(["content-length", "0"]));
    return 0;
  }
  // A body whose end is already there (a string, bytes, JSON: the usual
  // answer) goes out as head and body in one write with its length. Whether
  // the end is there is asked without waiting: a stream the app is still
  // producing (progress of a long job) must not hold its first chunk back
  // until the next one exists.
  const pendingSecond = reader.read();
  // Awaited below on every path that goes on reading; this only keeps a
  // failure after a failed write from going unhandled.
  pendingSecond.catch(() => {});
  const ready = await Promise.race([pendingSecond, notYet]);
  let ahead: Promise<ReadableStreamReadResult<Uint8Array>> | null =
    pendingSecond;
  const read = () => {
    const p = ahead ?? reader.read();
    ahead = null;
    return p;
  };
  if (ready !== NOT_YET && ready.done) {
    await writeAll(
      conn,
      joinBytes(
        head(["content-length", String(first.value.length)]),
        first.value,
      ),
    );
    return first.value.length;
  }
  let written = 0;
  if (declared !== null && /^\d+$/.test(declared)) {
    const length = Number(declared);
    await writeAll(conn, head(["content-length", declared]));
    for (
      let chunk: ReadableStreamReadResult<Uint8Array> = first;
      !chunk.done;
      chunk = await read()
    ) {
      written += chunk.value.length;
      if (written > length) {
        await reader.cancel();
        throw new Error("the app's body is longer than its Content-Length");
      }
      await writeAll(conn, chunk.value);
    }
    if (written !== length) {
      throw new Error("the app's body is shorter than its Content-Length");
    }
    return written;
  }
  await writeAll(
    conn,
    concatBytes([
      head(["transfer-encoding", "chunked"]),
      encodeChunk(first.value),
    ]),
  );
  written = first.value.length;
  for (;;) {
    const { done, value } = await read();
    if (done) break;
    if (value.length === 0) continue;
    written += value.length;
    await writeAll(conn, encodeChunk(value));
  }
  await writeAll(conn, LAST_CHUNK);
  return written;
}

/**
 * Head and body in one buffer for one write; a small one is carved from
 * the shared slab (a new ArrayBuffer per response costs more than the copy).
 */
function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = allocBytes(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
