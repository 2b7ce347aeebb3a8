/**
 * The hub's side of one worker connection after the handshake: the hub is the
 * HTTP/1.1 client, the worker the server (DESIGN.md, "Worker channel").
 *
 * An idle connection holds one pending 1-byte read, the cheapest way to learn
 * at once that the worker closed or misbehaved (PLATFORM.md: a pending
 * `conn.read` into a small buffer costs a few KB; a pending stream read 64 KB).
 * When a request is dispatched, that pending read becomes the first read of
 * the response.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { allocBytes } from "../http1/chars.ts";
import { CHUNK_END, chunkHeader, LAST_CHUNK } from "../http1/chunked.ts";
import { Http1ParseError } from "../http1/errors.ts";
import { type ResponseHead, serializeRequestHead } from "../http1/head.ts";
import {
  type ParseEvent,
  type ParserOptions,
  ResponseParser,
} from "../http1/parser.ts";
import {
  BODY_READ_SIZE,
  concatBytes,
  ConnReader,
  HEAD_READ_SIZE,
  writeAll,
} from "../net/conn_reader.ts";
import { BufferPool } from "../net/buffer_pool.ts";
import type { ByteConn } from "../net/byte_conn.ts";
import { HubError } from "./errors.ts";
import { type RequestBody, SMALL_BODY_BYTES } from "./request_body.ts";

/** A request as the hub sends it to a worker. */
export interface OutgoingRequest {
  /** The method. */
  method: string;
  /** The request target (origin form: path and query). */
  target: string;
  /** End-to-end fields; framing fields are added here. */
  headers: [string, string][];
  /** The body, or null. */
  body: RequestBody | null;
  /** Ask the worker to close after this response (original protocol). */
  close: boolean;
}

/** A worker's response: its head, and the body as bytes or a stream. */
export interface WorkerResponse {
  /** Status line and fields as the worker sent them. */
  head: ResponseHead;
  /**
   * Null when the response has no body; bytes when it was complete in the
   * first read (possibly a view into a shared slab: read or copy it, as
   * `new Response` does, never transfer its `buffer`); else a stream.
   */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
}

/** Why an exchange with a worker failed, and whether a retry is allowed. */
export class WorkerFailure extends Error {
  /** True once any byte of a response arrived: the request must not be sent again. */
  readonly responseStarted: boolean;
  /** A stable reason code for logs and metrics. */
  readonly reason: string;

  /**
   * @param reason stable code, e.g. `closed`, `parse-error`, `response-timeout`
   * @param message what happened
   * @param responseStarted whether a response byte was seen
   * @param options the cause
   */
  constructor(
    reason: string,
    message: string,
    responseStarted: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "WorkerFailure";
    this.reason = reason;
    this.responseStarted = responseStarted;
  }
}

/** What a connection reports to its owner (the pool). */
export interface WorkerConnEvents {
  /** The connection finished an exchange and can take another request. */
  onReusable(wc: WorkerConn): void;
  /** The connection is closed and must be forgotten. */
  onClosed(wc: WorkerConn, reason: string): void;
}

/** Options of {@linkcode WorkerConn}. */
export interface WorkerConnOptions {
  /** Name the worker gave (`Pothead-Worker`), or its address. */
  name: string;
  /** The pool it serves. */
  pool: string;
  /** Whether it speaks the original protocol (one request, then close). */
  legacy: boolean;
  /** The worker's address. */
  remote: string;
  /** Time source. */
  clock: Clock;
  /** Codec limits for responses. */
  parser?: ParserOptions;
  /** Owner callbacks. */
  events: WorkerConnEvents;
}

/** State of a worker connection. */
export type WorkerConnState = "idle" | "busy" | "probing" | "closed";

/**
 * Why a worker connection was closed: stable codes for
 * `pothead_hub_worker_disconnects_total{reason}` and the log, one per phase
 * deadline and per kind of fault (issue 5).
 */
export const WorkerCloseCode = {
  /** No complete response head within the response timeout (504). */
  ResponseTimeout: "response-timeout",
  /** An idle connection did not answer its `OPTIONS *` probe in time. */
  ProbeTimeout: "probe-timeout",
  /** A response body stalled longer than the body idle timeout. */
  BodyIdleTimeout: "body-idle-timeout",
  /** The worker sent bytes while no request was outstanding. */
  BytesWhileIdle: "bytes-while-idle",
  /** The worker closed or reset the connection. */
  WorkerClosed: "worker-closed",
  /** The worker sent something that is not a valid response (502). */
  ProtocolError: "protocol-error",
  /** The worker asked to close (`Connection: close`, or the original protocol's one request). */
  WorkerAsked: "worker-asked",
  /** The consumer went away during the exchange (the app's job is aborted). */
  ConsumerGone: "consumer-gone",
  /** The consumer's request could not be sent whole (its body failed or was too large). */
  RequestFailed: "request-failed",
  /** The hub is shutting down, or the pool was removed. */
  Shutdown: "shutdown",
  /**
   * The worker declined the request: its slot had just taken another hub's
   * job (many hubs, issue 7). The request goes back to the front of the
   * queue; this is not a failure.
   */
  Declined: "declined",
  /** Any other reason. */
  Closed: "closed",
} as const;
/** A value of {@linkcode WorkerCloseCode}. */
export type WorkerCloseCode =
  typeof WorkerCloseCode[keyof typeof WorkerCloseCode];

const PROBE = new TextEncoder().encode(
  "OPTIONS * HTTP/1.1\r\nHost: pothead\r\n\r\n",
);

/**
 * A larger body waits for the worker's `100 Continue` (RFC 9110 §10.1.1), so
 * that a worker that declines (many hubs, issue 7) does so before any byte of
 * the body left the hub, and the request can be queued again. A worker that
 * ignores the expectation gets the body after this long anyway, as the RFC
 * lets a client do; the hub's sweep enforces it.
 */
const CONTINUE_WAIT_MS = 1000;

/**
 * The field a worker sets on a `503` to decline a request because the slot
 * this connection belongs to is busy with another hub's job (issue 7, "Many
 * hubs"). The hub puts the request back at the front of its queue; it is not
 * a failure and not a re-dispatch.
 */
export const DECLINED_FIELD = "pothead-declined";

/**
 * Whether a response is a worker's decline (`503` with `Pothead-Declined`).
 * @param head the response head
 * @returns true for a decline
 */
export function isDecline(head: ResponseHead): boolean {
  if (head.status !== 503) return false;
  for (const [n, v] of head.headers) {
    if (
      n.length === DECLINED_FIELD.length && n.toLowerCase() === DECLINED_FIELD
    ) {
      return v.trim() !== "";
    }
  }
  return false;
}

let nextId = 1;

/**
 * Buffers for the read that brings a response head: its bytes are parsed or
 * copied before the buffer goes back, so one buffer serves many responses.
 * Kept for up to 64 reads at once (1 MiB).
 */
const HEAD_BUFFERS = new BufferPool(HEAD_READ_SIZE, 64);

/**
 * One worker connection on the hub.
 */
export class WorkerConn {
  /** A process-unique number, for logs. */
  readonly id: number = nextId++;
  /** Name the worker gave. */
  readonly name: string;
  /** The pool it serves. */
  readonly pool: string;
  /** Whether it speaks the original protocol. */
  readonly legacy: boolean;
  /** The worker's address. */
  readonly remote: string;
  /** Current state. */
  state: WorkerConnState = "busy";
  /** When it last became idle (clock ms). */
  idleSince = 0;
  /** Requests served on this connection. */
  served = 0;

  #conn: ByteConn;
  #reader: ConnReader;
  #parser: ResponseParser | null = null;
  #parserOptions: ParserOptions | undefined;
  #clock: Clock;
  #events: WorkerConnEvents;
  #idleBuf = new Uint8Array(1);
  /** The pending idle read (it may reject when the connection closes). */
  #pending: Promise<number | null> | null = null;
  #closeReason: string | null = null;
  #closeCode: WorkerCloseCode = "closed";
  /** Deadline of the current phase (response head or probe answer), 0 = none. */
  #deadline = 0;
  #deadlineReason = "";
  #deadlineCode: WorkerCloseCode = "response-timeout";
  /** When the read now pending began while a response was due, 0 = none. */
  #readSince = 0;
  #pumping = false;
  /** A body held back until the worker's `100 Continue`, or null. */
  #awaitingContinue: RequestBody | null = null;
  #continueDeadline = 0;
  #bodyError: unknown = null;

  /**
   * @param conn the socket, after the handshake
   * @param options name, pool, clock and owner callbacks
   */
  constructor(conn: ByteConn, options: WorkerConnOptions) {
    this.#conn = conn;
    this.#reader = new ConnReader(conn);
    // Made at the first exchange: an idle connection that never serves keeps
    // no parser state (issue 2: idle connections must stay cheap).
    this.#parserOptions = options.parser;
    this.#clock = options.clock;
    this.#events = options.events;
    this.name = options.name;
    this.pool = options.pool;
    this.legacy = options.legacy;
    this.remote = options.remote;
  }

  /** Why the connection was closed, or null while open. */
  get closeReason(): string | null {
    return this.#closeReason;
  }

  /** Why the connection was closed, as a stable code (`closed` while open). */
  get closeCode(): WorkerCloseCode {
    return this.#closeCode;
  }

  /**
   * Puts the connection in the idle state, watching for a close or for
   * bytes the worker must not send while idle.
   */
  markIdle(): void {
    if (this.state === "closed") return;
    this.state = "idle";
    this.idleSince = this.#clock.now();
    if (this.#pending || this.#reader.buffered) {
      if (this.#reader.buffered) {
        this.close("worker sent bytes while idle", "bytes-while-idle");
      }
      return;
    }
    // One closure and one reaction per idle connection (issue 6): the same
    // callback takes the byte count or, on a failed read, the error.
    const p = this.#conn.read(this.#idleBuf);
    this.#pending = p;
    const settled = (n: unknown) => {
      if (this.#pending !== p || this.state !== "idle") return;
      this.#pending = null;
      if (typeof n !== "number") {
        this.close("worker closed the connection", "worker-closed");
      } else {
        this.close("worker sent bytes while idle", "bytes-while-idle");
      }
    };
    p.then(settled, settled);
  }

  /**
   * Closes the connection (idempotent). A pending read or write fails, which
   * ends an exchange in progress.
   * @param reason why, for logs
   * @param code why, as a stable code for metrics @default {"closed"}
   */
  close(reason: string, code: WorkerCloseCode = "closed"): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.#closeReason = reason;
    this.#closeCode = code;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer: nothing left to release.
    }
    this.#events.onClosed(this, reason);
  }

  /**
   * Checks the phase deadlines; called by the hub's periodic sweep so that no
   * request needs a timer of its own.
   * @param now the clock reading
   * @param bodyIdleMs the longest a response body may stall
   */
  sweep(now: number, bodyIdleMs: number): void {
    if (this.state === "closed") return;
    if (this.#awaitingContinue && now >= this.#continueDeadline) {
      this.#sendHeldBody();
    }
    if (this.#deadline !== 0) {
      // A phase with its own deadline (response head, probe answer): the
      // body idle timeout does not apply; an expensive job may take until
      // the response timeout before its head.
      if (now >= this.#deadline) {
        this.close(this.#deadlineReason, this.#deadlineCode);
      }
    } else if (this.#readSince !== 0 && now - this.#readSince >= bodyIdleMs) {
      this.close("response body idle timeout", "body-idle-timeout");
    }
  }

  /**
   * Probes an idle connection with `OPTIONS *` (DESIGN.md, worker channel
   * item 4). Resolves true when the worker answered 2xx and the connection
   * went back to idle.
   * @param timeoutMs how long the worker has to answer
   * @returns whether the connection is alive
   */
  async probe(timeoutMs: number): Promise<boolean> {
    if (this.state !== "idle") return false;
    this.state = "probing";
    const first = this.#takePending();
    this.#parserFor().expect("OPTIONS");
    this.#deadline = this.#clock.now() + timeoutMs;
    this.#deadlineReason = "probe unanswered";
    this.#deadlineCode = "probe-timeout";
    try {
      await writeAll(this.#conn, PROBE);
      const { head, keepAlive } = await this.#readHead(first);
      this.#deadline = 0;
      if (head.status < 200 || head.status > 299 || !keepAlive) {
        this.close(`probe answered ${head.status}`, "protocol-error");
        return false;
      }
      this.#finishExchange(true, false);
      return true;
    } catch (err) {
      this.close(`probe failed: ${message(err)}`, codeOf(err));
      return false;
    }
  }

  /**
   * Sends a request and resolves with the response head and body.
   *
   * @param req the request
   * @param responseTimeoutMs how long the worker has to send the head
   * @param stats `n` counts the response body bytes handed on
   * @param now the clock read just now by the caller (saves a reading)
   * @returns the response; its body stream reads from the worker on demand
   * @throws {WorkerFailure} when the worker failed; {@linkcode HubError} when the consumer's body did
   */
  async exchange(
    req: OutgoingRequest,
    responseTimeoutMs: number,
    stats: { n: number } = { n: 0 },
    now: number = this.#clock.now(),
  ): Promise<WorkerResponse> {
    if (this.state === "closed") {
      throw new WorkerFailure(
        "closed",
        this.#closeReason ?? "connection closed",
        false,
      );
    }
    this.state = "busy";
    this.served++;
    const first = this.#takePending();
    this.#parserFor().expect(req.method);
    this.#bodyError = null;
    this.#deadline = now + responseTimeoutMs;
    this.#deadlineReason = "response-timeout";
    this.#deadlineCode = "response-timeout";

    const headers = req.headers;
    const body = req.body;
    let small: Uint8Array | null = null;
    let expectContinue = false;
    if (body) {
      small = await body.readSmall(SMALL_BODY_BYTES);
      if (small || body.length !== null) {
        headers.push(["content-length", String(small?.length ?? body.length)]);
      } else {
        headers.push(["transfer-encoding", "chunked"]);
      }
      // The original protocol has no 100 Continue to wait for.
      expectContinue = small === null && !this.legacy;
      if (expectContinue) headers.push(["expect", "100-continue"]);
    }
    if (req.close) headers.push(["connection", "close"]);

    try {
      const head = serializeRequestHead({
        method: req.method,
        target: req.target,
        headers,
      });
      if (small) {
        await writeAll(this.#conn, concatBytes([head, small]));
      } else {
        await writeAll(this.#conn, head);
        if (body && expectContinue) {
          this.#awaitingContinue = body;
          this.#continueDeadline = this.#clock.now() + CONTINUE_WAIT_MS;
        } else if (body) {
          this.#pump(body);
        }
      }
    } catch (err) {
      if (err instanceof TypeError) {
        // A field the codec refuses to write: the consumer's fault.
        this.#finishOrClose(false);
        throw new HubError("bad-request", err.message);
      }
      const failure = this.#failure(err, false);
      // A failed exchange leaves the connection in an unknown state: drop it
      // now rather than at its deadline.
      this.close(failure.message, "worker-closed");
      throw failure;
    }

    try {
      const { head, keepAlive, data, ended, extra } = await this.#readHead(
        first,
      );
      this.#deadline = 0;
      // A final response before 100 Continue: the body was never sent, so
      // the worker's parser still waits for it and the connection cannot
      // carry another request.
      const bodyUnsent = this.#awaitingContinue !== null;
      this.#awaitingContinue = null;
      if (isDecline(head)) {
        this.close(
          "worker declined: its slot is busy with another hub's job",
          "declined",
        );
        throw new WorkerFailure(
          "declined",
          "worker declined: its slot is busy with another hub's job",
          false,
        );
      }
      if (head.status === 101) {
        this.close("worker switched protocols", "protocol-error");
        throw new WorkerFailure(
          "protocol",
          "worker answered 101 Switching Protocols",
          true,
        );
      }
      const reusable = keepAlive && !req.close && !this.legacy && !bodyUnsent;
      if (ended) {
        if (extra) {
          // More bytes than the response: a second response (splitting) or
          // garbage; either way the connection is out of step.
          this.close("worker sent bytes after the response", "protocol-error");
        }
        // Back to the pool before the consumer's response is even built:
        // the next queued request goes out now.
        this.#finishExchange(reusable && !extra, true);
        if (data === null) {
          return {
            head,
            body: headHasNoBody(head, req.method) ? null : new Uint8Array(0),
          };
        }
        return { head, body: data };
      }
      return {
        head,
        body: this.#bodyStream(data ? [data] : [], reusable, stats),
      };
    } catch (err) {
      const failure = err instanceof WorkerFailure || err instanceof HubError
        ? err
        : this.#failure(err, this.#parser!.state !== "idle");
      // A failed exchange leaves the connection in an unknown state: drop it
      // now rather than at its deadline (the state stays busy until then).
      this.close(failure.message, codeOf(err));
      throw failure;
    }
  }

  #parserFor(): ResponseParser {
    return this.#parser ??= new ResponseParser(this.#parserOptions);
  }

  #takePending(): Promise<Uint8Array | null> | null {
    const p = this.#pending;
    if (!p) return null;
    this.#pending = null;
    const buf = this.#idleBuf;
    return p.then((n) => (n === null ? null : buf.slice(0, n)), () => null);
  }

  /**
   * Reads until the response head is parsed. The body bytes that came with
   * it are returned as a copy of their own, so the read buffer goes back to
   * the pool at once. No body idle time is tracked here: the phase deadline
   * (response timeout, probe timeout) bounds the wait.
   */
  async #readHead(first: Promise<Uint8Array | null> | null): Promise<{
    head: ResponseHead;
    keepAlive: boolean;
    /** Body bytes that came with the head, or null. */
    data: Uint8Array | null;
    /** Whether the response ended in the bytes read so far. */
    ended: boolean;
    /** Whether bytes followed the end of the response. */
    extra: boolean;
  }> {
    for (;;) {
      let chunk: Uint8Array | null;
      let pooled: Uint8Array | null = null;
      if (first) {
        chunk = await first;
        first = null;
      } else if (this.#reader.buffered) {
        chunk = await this.#reader.read();
      } else {
        const r = await HEAD_BUFFERS.read(this.#conn);
        pooled = r?.buf ?? null;
        chunk = r ? r.buf.subarray(0, r.n) : null;
      }
      try {
        if (this.state === "closed") {
          throw this.#failure(null, this.#parser!.state !== "idle");
        }
        if (chunk === null) {
          const started = this.#parser!.state !== "idle";
          this.#parser!.eof();
          throw new WorkerFailure(
            "closed",
            "worker closed the connection before the response head",
            started,
          );
        }
        // The parser copies a head it has to keep across reads; the body
        // bytes it reports are views of `chunk`, copied below.
        const { events, remaining } = this.#parser!.feed(chunk);
        if (this.#awaitingContinue && this.#parser!.informational > 0) {
          this.#sendHeldBody();
        }
        if (events.length > 0 && events[0].type === "head") {
          const ev = events[0];
          let size = 0;
          let ended = false;
          for (let i = 1; i < events.length; i++) {
            const e = events[i];
            if (e.type === "data") size += e.data.length;
            else if (e.type === "end") ended = true;
          }
          let data: Uint8Array | null = null;
          if (size > 0) {
            // A complete body is copied once more by `new Response`: a view
            // of the shared slab is enough. The start of a streamed body is
            // handed to a stream, which may keep or transfer it: a buffer of
            // its own.
            data = ended ? allocBytes(size) : new Uint8Array(size);
            let off = 0;
            for (let i = 1; i < events.length; i++) {
              const e = events[i];
              if (e.type === "data") {
                data.set(e.data, off);
                off += e.data.length;
              }
            }
          }
          return {
            head: ev.head,
            keepAlive: ev.keepAlive,
            data,
            ended,
            extra: remaining !== null,
          };
        }
      } finally {
        if (pooled) HEAD_BUFFERS.give(pooled);
      }
    }
  }

  async #read(size: number): Promise<Uint8Array | null> {
    this.#readSince = this.#clock.now();
    try {
      return await this.#reader.read(size);
    } finally {
      this.#readSince = 0;
    }
  }

  #bodyStream(
    initial: Uint8Array[],
    reusable: boolean,
    stats: { n: number },
  ): ReadableStream<Uint8Array> {
    let done = false;
    return new ReadableStream<Uint8Array>({
      start: (c) => {
        for (const p of initial) {
          stats.n += p.length;
          c.enqueue(p);
        }
      },
      pull: async (c) => {
        try {
          for (;;) {
            const chunk = await this.#read(BODY_READ_SIZE);
            if (this.state === "closed") {
              throw this.#failure(null, true);
            }
            let events: ParseEvent<ResponseHead>[];
            let remaining: Uint8Array | null = null;
            if (chunk === null) {
              events = this.#parser!.eof();
            } else {
              ({ events, remaining } = this.#parser!.feed(chunk));
            }
            let enqueued = false;
            for (const ev of events) {
              if (ev.type === "data") {
                stats.n += ev.data.length;
                c.enqueue(ev.data);
                enqueued = true;
              } else if (ev.type === "end") {
                done = true;
                c.close();
                this.#finishExchange(
                  reusable && chunk !== null && remaining === null,
                  true,
                );
                return;
              }
            }
            if (enqueued) return;
          }
        } catch (err) {
          done = true;
          const failure = err instanceof WorkerFailure
            ? err
            : this.#failure(err, true);
          this.close(failure.message, codeOf(err));
          c.error(failure);
        }
      },
      cancel: () => {
        if (!done) {
          this.close(
            "consumer went away during the response body",
            "consumer-gone",
          );
        }
      },
    });
  }

  #pump(body: RequestBody): void {
    this.#pumping = true;
    const chunked = body.length === null;
    (async () => {
      // Whether the failure is the worker's (a write) or the consumer's (a
      // read of its body): only the latter is the consumer's fault.
      let writing = false;
      try {
        for await (const chunk of body.chunks()) {
          if (this.state === "closed") return;
          writing = true;
          if (chunked) {
            await writeAll(
              this.#conn,
              concatBytes([chunkHeader(chunk.length), chunk, CHUNK_END]),
            );
          } else {
            await writeAll(this.#conn, chunk);
          }
          writing = false;
        }
        writing = true;
        if (chunked) await writeAll(this.#conn, LAST_CHUNK);
        writing = false;
      } catch (err) {
        if (this.state !== "closed" && writing) {
          // The worker went away while the body streamed: a worker failure
          // (502, or a re-dispatch when the body can be replayed), not 400.
          this.close(
            `sending the request body failed: ${message(err)}`,
            "worker-closed",
          );
        } else if (this.state !== "closed") {
          this.#bodyError = err;
          this.close(
            err instanceof HubError
              ? err.message
              : `consumer request body failed: ${message(err)}`,
            "request-failed",
          );
        }
      } finally {
        this.#pumping = false;
        if (this.#afterPump) {
          const next = this.#afterPump;
          this.#afterPump = null;
          next();
        }
      }
    })();
  }

  #afterPump: (() => void) | null = null;

  /** Sends the body held back for `100 Continue` (it came, or the wait is over). */
  #sendHeldBody(): void {
    const body = this.#awaitingContinue;
    this.#awaitingContinue = null;
    if (body && this.state !== "closed") this.#pump(body);
  }

  #finishOrClose(reusable: boolean): void {
    if (reusable) this.#finishExchange(true, true);
    else this.close("request could not be sent", "request-failed");
  }

  #finishExchange(reusable: boolean, wasRequest: boolean): void {
    this.#deadline = 0;
    if (this.state === "closed") return;
    if (!reusable) {
      this.close(
        this.legacy ? "one request per connection" : "worker asked to close",
        "worker-asked",
      );
      return;
    }
    if (wasRequest && this.#pumping) {
      // The worker answered before reading all of the request body: the
      // connection can be reused only once the body is fully sent.
      this.#afterPump = () => {
        if (this.#bodyError) return;
        this.#events.onReusable(this);
      };
      return;
    }
    this.#events.onReusable(this);
  }

  #failure(err: unknown, responseStarted: boolean): WorkerFailure | HubError {
    if (this.#bodyError instanceof HubError) return this.#bodyError;
    if (this.#bodyError) {
      return new HubError(
        "bad-request",
        `consumer request body failed: ${message(this.#bodyError)}`,
      );
    }
    const reason = this.#closeReason ?? message(err);
    if (reason === "response-timeout") {
      return new WorkerFailure(
        "response-timeout",
        "worker sent no response head in time",
        responseStarted,
      );
    }
    const code = err && typeof err === "object" && "code" in err
      ? String(err.code)
      : "closed";
    return new WorkerFailure(code, reason, responseStarted, { cause: err });
  }
}

/** The close code for an error that ended an exchange. */
function codeOf(err: unknown): WorkerCloseCode {
  if (err instanceof Http1ParseError) {
    return err.code === "truncated" ? "worker-closed" : "protocol-error";
  }
  if (err instanceof WorkerFailure && err.reason === "protocol") {
    return "protocol-error";
  }
  return "worker-closed";
}

function headHasNoBody(head: ResponseHead, method: string): boolean {
  return method === "HEAD" || head.status === 204 || head.status === 304 ||
    (head.status >= 100 && head.status < 200);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
