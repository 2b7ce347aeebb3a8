/**
 * Incremental HTTP/1.1 message parsers (RFC 9112) that do no I/O: bytes in,
 * `head` / `data` / `end` events out. The head is buffered (up to
 * `maxHeadBytes`); body data is never copied, each `data` event is a view
 * into the chunk that was fed.
 *
 * The parsers are strict where leniency lets two parsers disagree on where a
 * message ends (request smuggling, RFC 9112 §11.2): CRLF is required at the
 * end of every head line, bare CR, obs-fold, whitespace before the colon and
 * conflicting framing fields are errors.
 *
 * @module
 */

import {
  CHAR_CLASS,
  COLON,
  CR,
  decodeLatin1,
  FIELD,
  HTAB,
  LF,
  limitOption,
  showBytes,
  SP,
  TARGET,
  TOKEN,
} from "./chars.ts";
import { ChunkedDecoder } from "./chunked.ts";
import { Http1ErrorCode, Http1ParseError } from "./errors.ts";
import type { HeaderPairs, RequestHead, ResponseHead } from "./head.ts";

/** Limits of {@linkcode RequestParser} and {@linkcode ResponseParser}. */
export interface ParserOptions {
  /**
   * Most bytes of a head, from the first byte (leading empty lines included)
   * to the empty line that ends it. Beyond it, `head-too-large`.
   *
   * @default {65536}
   */
  maxHeadBytes?: number;
  /**
   * Most field lines in a head. Beyond it, `too-many-fields`.
   *
   * @default {100}
   */
  maxFields?: number;
  /**
   * Interim 1xx responses tolerated before one final response (responses
   * only). Beyond it, `too-many-informational`.
   *
   * @default {16}
   */
  maxInformational?: number;
  /**
   * Most bytes of chunk extensions on one chunk size line.
   *
   * @default {4096}
   */
  maxChunkExtensionBytes?: number;
  /**
   * Most bytes of a chunked body's trailer section.
   *
   * @default {16384}
   */
  maxTrailerBytes?: number;
}

/** How the body of a message is delimited (RFC 9112 §6.3). */
export type BodyFraming =
  /** No body: HEAD response, 1xx/204/304, request without CL/TE, CL: 0. */
  | { kind: "none" }
  /** Content-Length > 0. */
  | { kind: "length"; length: number }
  /** Transfer-Encoding whose final coding is chunked. */
  | { kind: "chunked" }
  /** A response read until the peer closes (RFC 9112 §6.3 rule 7). */
  | { kind: "close" };

/** What the parser reports, in order: one `head`, any `data`, one `end`. */
export type ParseEvent<H> =
  | {
    type: "head";
    head: H;
    framing: BodyFraming;
    /** Whether the connection may carry another message after this one (RFC 9112 §9.3). */
    keepAlive: boolean;
  }
  /** Body bytes: a view into the fed chunk (no copy); valid as long as the chunk is. */
  | { type: "data"; data: Uint8Array }
  /** The message is complete. */
  | { type: "end" };

/** The outcome of one `feed` call. */
export interface FeedResult<H> {
  /** Events for the bytes consumed, possibly none. */
  events: ParseEvent<H>[];
  /** Bytes after the end of this message (not consumed), or null. */
  remaining: Uint8Array | null;
}

/** Parser state as reported by the `state` getters. */
export type ParserState = "idle" | "head" | "body" | "done";

const IDLE = 0;
const HEAD = 1;
const BODY = 2;
const DONE = 3;
const STATE_NAMES: readonly ParserState[] = ["idle", "head", "body", "done"];

const F_NONE = 0;
const F_LENGTH = 1;
const F_CHUNKED = 2;
const F_CLOSE = 3;

// Shared framing values: the kinds without a length carry no data, so one
// frozen object each saves an allocation per message.
const FRAMING_NONE: BodyFraming = Object.freeze({ kind: "none" });
const FRAMING_CHUNKED: BodyFraming = Object.freeze({ kind: "chunked" });
const FRAMING_CLOSE: BodyFraming = Object.freeze({ kind: "close" });

/**
 * RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the
 * request-line (old clients send CRLF after a POST body). A few are ignored;
 * more are treated as garbage.
 */
const MAX_LEADING_EMPTY_LINES = 4;

/**
 * An incomplete head line at most this long is parsed again on every feed;
 * a longer one only once its LF arrives (bounds the work per byte).
 */
const REPARSE_LIMIT = 256;

/** "HTTP/1." */
const HTTP_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e];

type Event = ParseEvent<RequestHead> | ParseEvent<ResponseHead>;

/** Message-level framing decided from the head. */
interface Framing {
  kind: number;
  length: number;
  keepAlive: boolean;
}

/**
 * The state machine shared by both parsers. Start-line specifics are selected
 * by `#isRequest`; everything else (buffering, field lines, bodies) is common.
 */
class MessageParser {
  readonly #isRequest: boolean;
  readonly #maxHead: number;
  readonly #maxFields: number;
  readonly #maxInformational: number;
  readonly #chunked: ChunkedDecoder;
  readonly #out: Uint8Array[] = [];

  #state = IDLE;

  // Head buffering: used only when a head spans feeds.
  #buf: Uint8Array | null = null;
  #bufLen = 0;

  // Head scanning, in head-relative byte offsets (index 0 = first byte of
  // the head, in the chunk or in #buf alike).
  #lineStart = 0;
  /** Where to look for LF next when the line at #lineStart was incomplete. */
  #searchFrom = 0;
  #leadingEmpty = 0;
  #startDone = false;
  /** Start of the start-line (after ignored empty lines). */
  #s0 = 0;
  // Request-line: method [s0, #s1), target [#s1 + 1, #s2), version digit.
  // Status-line: status in #s1, reason [#s2, #s3).
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #minor = 1;
  /** name start, name end, value start, value end, per field. */
  #fields = new Int32Array(64);
  /** Used entries of #fields (4 per field line). */
  #nf = 0;
  /** OR of bytes that may be above 0x7F (values, reason), to pick a decoder. */
  #hi = 0;

  // Body.
  #framing = F_NONE;
  #left = 0;

  // Responses: the request method it answers, interim responses seen.
  #noBody = false;
  #connect = false;
  #informational = 0;

  constructor(isRequest: boolean, options: ParserOptions) {
    this.#isRequest = isRequest;
    this.#maxHead = limitOption("maxHeadBytes", options.maxHeadBytes, 65536);
    this.#maxFields = limitOption("maxFields", options.maxFields, 100);
    this.#maxInformational = limitOption(
      "maxInformational",
      options.maxInformational,
      16,
    );
    this.#chunked = new ChunkedDecoder(options);
  }

  get state(): ParserState {
    return STATE_NAMES[this.#state];
  }

  get informational(): number {
    return this.#informational;
  }

  reset(): void {
    this.#state = IDLE;
    this.#bufLen = 0;
    this.#informational = 0;
    this.#resetHead();
  }

  expect(method: string): void {
    // Methods are case-sensitive (RFC 9110 §9.1): "head" is not HEAD.
    this.#noBody = method === "HEAD";
    this.#connect = method === "CONNECT";
    this.reset();
  }

  #resetHead(): void {
    this.#lineStart = 0;
    this.#searchFrom = 0;
    this.#leadingEmpty = 0;
    this.#startDone = false;
    this.#nf = 0;
    this.#hi = 0;
  }

  feed(chunk: Uint8Array): { events: Event[]; remaining: Uint8Array | null } {
    const events: Event[] = [];
    // The message already ended: the bytes belong to the next one, and the
    // caller decides whether there may be one (reset, or ExtraData).
    if (this.#state === DONE) {
      return { events, remaining: chunk.length > 0 ? chunk : null };
    }
    let pos = 0;
    while (this.#state < BODY) {
      pos = this.#feedHead(chunk, pos, events);
      if (pos < 0) return { events, remaining: null };
      // An interim 1xx leaves the state at HEAD: parse the next head.
    }
    if (this.#state === BODY) pos = this.#feedBody(chunk, pos, events);
    return {
      events,
      remaining: this.#state === DONE && pos < chunk.length
        ? chunk.subarray(pos)
        : null,
    };
  }

  eof(): Event[] {
    switch (this.#state) {
      case IDLE:
      case DONE:
        return [];
      case BODY:
        if (this.#framing === F_CLOSE) {
          this.#state = DONE;
          return [{ type: "end" }];
        }
        throw new Http1ParseError(
          Http1ErrorCode.Truncated,
          this.#framing === F_LENGTH
            ? `Cannot parse body: connection closed with ${this.#left} of its Content-Length bytes missing`
            : "Cannot parse chunked body: connection closed before the last chunk",
        );
      default:
        throw new Http1ParseError(
          Http1ErrorCode.Truncated,
          this.#bufLen === 0 && this.#informational > 0
            ? `Cannot parse response: connection closed after ${this.#informational} interim response(s) and no final one`
            : `Cannot parse head: connection closed in an incomplete head: current value is ${this.#bufLen} bytes`,
        );
    }
  }

  /**
   * Consumes head bytes from `chunk` at `pos`.
   *
   * @returns The index in `chunk` just after the head, or -1 when the head is
   * not complete yet (every byte is then buffered).
   */
  #feedHead(chunk: Uint8Array, pos: number, events: Event[]): number {
    const max = this.#maxHead;
    if (this.#bufLen === 0) {
      // Fast path: the whole head is usually in one chunk; parse it in place.
      const src = pos === 0 ? chunk : chunk.subarray(pos);
      const avail = src.length;
      const end = avail > max ? max : avail;
      const headEnd = this.#scan(src, end);
      if (headEnd >= 0) {
        this.#finishHead(src, headEnd, events);
        return pos + headEnd;
      }
      if (avail > max) this.#tooLarge(avail);
      this.#append(src);
      return -1;
    }
    // The head spans feeds: append at most up to the cap, so the buffer
    // never outgrows maxHeadBytes.
    const old = this.#bufLen;
    const avail = chunk.length - pos;
    const room = max - old;
    const n = avail < room ? avail : room;
    this.#append(chunk.subarray(pos, pos + n));
    const src = this.#buf!.subarray(0, this.#bufLen);
    const headEnd = this.#scan(src, src.length);
    if (headEnd >= 0) {
      this.#bufLen = 0;
      this.#finishHead(src, headEnd, events);
      return pos + (headEnd - old);
    }
    if (n < avail) this.#tooLarge(old + avail);
    return -1;
  }

  #append(bytes: Uint8Array): void {
    const need = this.#bufLen + bytes.length;
    let buf = this.#buf;
    if (buf === null || buf.length < need) {
      // Grow geometrically (linear total copying), never past the cap.
      let size = buf === null ? 1024 : buf.length * 2;
      while (size < need) size *= 2;
      if (size > this.#maxHead) size = Math.max(this.#maxHead, need);
      const next = new Uint8Array(size);
      if (buf !== null) next.set(buf.subarray(0, this.#bufLen));
      this.#buf = buf = next;
    }
    buf.set(bytes, this.#bufLen);
    this.#bufLen = need;
  }

  #tooLarge(seen: number): never {
    throw new Http1ParseError(
      Http1ErrorCode.HeadTooLarge,
      `Cannot parse head: larger than ${this.#maxHead} bytes: current value is at least ${seen} bytes`,
    );
  }

  /**
   * Parses complete lines of the head in `src[0, end)` from #lineStart on.
   *
   * @returns The offset just after the empty line that ends the head, or -1.
   */
  #scan(src: Uint8Array, end: number): number {
    let ls = this.#lineStart;
    if (this.#searchFrom > ls && end - ls > REPARSE_LIMIT) {
      // A long line was incomplete before: parse it again only once its LF
      // has arrived, looking in the new bytes only, so a long line fed byte
      // by byte stays linear. Short lines are parsed again at once, so bad
      // bytes are refused without waiting for the end of the line.
      const lf = src.indexOf(LF, this.#searchFrom);
      if (lf < 0 || lf >= end) {
        this.#searchFrom = end;
        return -1;
      }
    }
    if (!this.#startDone) {
      // Empty lines before a request-line come back here as complete lines.
      do {
        const next = this.#startLine(src, ls, end);
        if (next < 0) {
          this.#lineStart = ls;
          this.#searchFrom = end;
          return -1;
        }
        ls = next;
      } while (!this.#startDone);
    }
    return this.#fieldLines(src, ls, end);
  }

  /**
   * Reports a byte that may not appear where it is. A CR followed by LF ends
   * the line (then the line is incomplete: `code`); a CR followed by anything
   * else is a bare CR; a lone LF is refused because RFC 9112 §2.2 only lets a
   * recipient accept it, and a proxy that does while the next hop does not
   * can be smuggled through.
   *
   * @returns -1 when the byte after a CR has not arrived yet.
   */
  #bad(
    src: Uint8Array,
    ls: number,
    i: number,
    end: number,
    code: Http1ErrorCode,
    what: string,
  ): number {
    const c = src[i];
    if (c === CR) {
      if (i + 1 >= end) return -1;
      if (src[i + 1] !== LF) {
        throw new Http1ParseError(
          Http1ErrorCode.BareCr,
          `Cannot parse ${what}: CR not followed by LF: current value is '${
            showBytes(src.subarray(ls, Math.min(end, i + 2)))
          }'`,
        );
      }
    } else if (c === LF) {
      throw new Http1ParseError(
        Http1ErrorCode.InvalidHeader,
        `Cannot parse ${what}: line ends in a lone LF, CRLF is required: current value is '${
          showBytes(src.subarray(ls, i))
        }'`,
      );
    }
    let lineEnd = src.indexOf(LF, i);
    if (lineEnd < 0 || lineEnd > end) lineEnd = end;
    else if (lineEnd > ls && src[lineEnd - 1] === CR) lineEnd--;
    throw new Http1ParseError(
      code,
      `Cannot parse ${what}: current value is '${
        showBytes(src.subarray(ls, lineEnd))
      }'`,
    );
  }

  /** Handles an empty line before the start-line. */
  #emptyLine(src: Uint8Array, ls: number, end: number): number {
    if (src[ls] === LF) {
      return this.#bad(src, ls, ls, end, "invalid-header", "start line");
    }
    if (ls + 1 >= end) return -1;
    if (src[ls + 1] !== LF) {
      return this.#bad(src, ls, ls, end, "invalid-start-line", "start line");
    }
    if (!this.#isRequest || ++this.#leadingEmpty > MAX_LEADING_EMPTY_LINES) {
      throw new Http1ParseError(
        Http1ErrorCode.InvalidStartLine,
        `Cannot parse ${
          this.#isRequest ? "request line" : "status line"
        }: current value is an empty line`,
      );
    }
    return ls + 2;
  }

  #startLine(src: Uint8Array, ls: number, end: number): number {
    if (ls >= end) return -1;
    // Any byte of a response counts (callers use "idle" to tell whether a
    // peer answered at all); for requests, ignored empty lines do not.
    if (!this.#isRequest) this.#state = HEAD;
    const c0 = src[ls];
    if (c0 === CR || c0 === LF) return this.#emptyLine(src, ls, end);
    this.#state = HEAD;
    return this.#isRequest
      ? this.#requestLine(src, ls, end)
      : this.#statusLine(src, ls, end);
  }

  /** request-line = method SP request-target SP HTTP-version (RFC 9112 §3). */
  #requestLine(src: Uint8Array, ls: number, end: number): number {
    const what = "request line";
    const bad = "invalid-start-line";
    let i = ls;
    while (i < end && (CHAR_CLASS[src[i]] & TOKEN) !== 0) i++;
    if (i >= end) return -1;
    if (src[i] !== SP || i === ls) return this.#bad(src, ls, i, end, bad, what);
    const methodEnd = i++;
    const targetStart = i;
    while (i < end && (CHAR_CLASS[src[i]] & TARGET) !== 0) i++;
    if (i >= end) return -1;
    if (src[i] !== SP || i === targetStart) {
      return this.#bad(src, ls, i, end, bad, what);
    }
    const targetEnd = i++;
    const minor = this.#version(src, ls, i, end, what);
    if (minor < 0) return minor;
    i += 8;
    if (i + 1 >= end) {
      return i >= end || src[i] === CR
        ? -1
        : this.#bad(src, ls, i, end, bad, what);
    }
    if (src[i] !== CR || src[i + 1] !== LF) {
      return this.#bad(src, ls, i, end, bad, what);
    }
    this.#s0 = ls;
    this.#s1 = methodEnd;
    this.#s2 = targetEnd;
    this.#minor = minor;
    this.#startDone = true;
    return i + 2;
  }

  /**
   * Matches "HTTP/1.0" or "HTTP/1.1" at `i` (RFC 9112 §2.3; other versions
   * are refused, a proxy cannot speak them on this connection).
   *
   * @returns The minor version, or -1 when bytes are missing.
   */
  #version(
    src: Uint8Array,
    ls: number,
    i: number,
    end: number,
    what: string,
  ): number {
    for (let k = 0; k < 8; k++) {
      const j = i + k;
      if (j >= end) return -1;
      const c = src[j];
      if (k < 7 ? c !== HTTP_PREFIX[k] : c !== 0x30 && c !== 0x31) {
        return this.#bad(src, ls, j, end, "invalid-start-line", what);
      }
    }
    return src[i + 7] - 0x30;
  }

  /**
   * status-line = HTTP-version SP status-code SP [ reason-phrase ]
   * (RFC 9112 §4); "HTTP/1.1 200" without the second SP is accepted too,
   * as many clients do.
   */
  #statusLine(src: Uint8Array, ls: number, end: number): number {
    const what = "status line";
    const bad = "invalid-start-line";
    const minor = this.#version(src, ls, ls, end, what);
    if (minor < 0) return minor;
    let i = ls + 8;
    if (i >= end) return -1;
    if (src[i] !== SP) return this.#bad(src, ls, i, end, bad, what);
    i++;
    let status = 0;
    for (let k = 0; k < 3; k++, i++) {
      if (i >= end) return -1;
      const d = src[i] - 0x30;
      // RFC 9110 §15: values outside 100..599 are invalid.
      if (d < 0 || d > 9 || (k === 0 && (d < 1 || d > 5))) {
        return this.#bad(src, ls, i, end, bad, what);
      }
      status = status * 10 + d;
    }
    if (i >= end) return -1;
    let reasonStart = i;
    if (src[i] === SP) {
      reasonStart = ++i;
      let hi = 0;
      while (i < end) {
        const c = src[i];
        if ((CHAR_CLASS[c] & FIELD) === 0) break;
        hi |= c;
        i++;
      }
      this.#hi |= hi;
      if (i >= end) return -1;
    }
    if (src[i] !== CR) return this.#bad(src, ls, i, end, bad, what);
    if (i + 1 >= end) return -1;
    if (src[i + 1] !== LF) return this.#bad(src, ls, i, end, bad, what);
    this.#s0 = ls;
    this.#s1 = status;
    this.#s2 = reasonStart;
    this.#s3 = i;
    this.#minor = minor;
    this.#startDone = true;
    return i + 2;
  }

  /**
   * Parses field-line = field-name ":" OWS field-value OWS (RFC 9112 §5)
   * from `ls` on, up to the empty line. One loop with the state in locals:
   * this is where a proxy spends its parsing time.
   *
   * @returns The offset after the empty line, or -1 when bytes are missing.
   */
  #fieldLines(src: Uint8Array, ls: number, end: number): number {
    const maxNf = this.#maxFields * 4;
    let fields = this.#fields;
    let nf = this.#nf;
    let hi = 0;
    let result = -1;
    while (ls < end) {
      let c = src[ls];
      if (c === CR) {
        if (ls + 1 >= end) break;
        if (src[ls + 1] !== LF) this.#fieldError(src, ls, ls, end);
        result = ls + 2;
        break;
      }
      let i = ls;
      while (i < end && (CHAR_CLASS[src[i]] & TOKEN) !== 0) i++;
      if (i >= end) break;
      if (src[i] !== COLON || i === ls) {
        if (this.#fieldError(src, ls, i, end) < 0) break;
      }
      const nameEnd = i++;
      while (i < end && ((c = src[i]) === SP || c === HTAB)) i++;
      const valueStart = i;
      while (i < end) {
        c = src[i];
        if ((CHAR_CLASS[c] & FIELD) === 0) break;
        hi |= c;
        i++;
      }
      if (i + 1 >= end) break;
      if (c !== CR || src[i + 1] !== LF) {
        if (this.#fieldError(src, ls, i, end) < 0) break;
      }
      let valueEnd = i;
      while (
        valueEnd > valueStart &&
        ((c = src[valueEnd - 1]) === SP || c === HTAB)
      ) valueEnd--;
      if (nf >= maxNf) {
        throw new Http1ParseError(
          Http1ErrorCode.TooManyFields,
          `Cannot parse head: more than ${this.#maxFields} field lines`,
        );
      }
      if (nf === fields.length) {
        const grown = new Int32Array(nf * 2);
        grown.set(fields);
        this.#fields = fields = grown;
      }
      fields[nf] = ls;
      fields[nf + 1] = nameEnd;
      fields[nf + 2] = valueStart;
      fields[nf + 3] = valueEnd;
      nf += 4;
      ls = i + 2;
    }
    this.#nf = nf;
    this.#hi |= hi;
    if (result < 0) {
      this.#lineStart = ls;
      this.#searchFrom = end;
    }
    return result;
  }

  /**
   * Explains why the field line at `ls` stopped at `i`; returns -1 when
   * that depends on a byte that has not arrived, and throws otherwise.
   */
  #fieldError(src: Uint8Array, ls: number, i: number, end: number): number {
    const c = src[ls];
    if (c === SP || c === HTAB) {
      // RFC 9112 §5.2: obs-fold is deprecated; a server MUST reject it or
      // replace it, and a proxy that unfolds differs from the next hop.
      throw new Http1ParseError(
        Http1ErrorCode.ObsFold,
        `Cannot parse field line: line folding (obs-fold) is not accepted: current value is '${
          showBytes(src.subarray(ls, end))
        }'`,
      );
    }
    const d = src[i];
    if ((d === SP || d === HTAB) && (CHAR_CLASS[src[i - 1]] & TOKEN) !== 0) {
      // RFC 9112 §5.1: no whitespace between name and colon; a server
      // MUST reject such a request with 400.
      throw new Http1ParseError(
        Http1ErrorCode.InvalidHeader,
        `Cannot parse field line: whitespace between field name and colon: current value is '${
          showBytes(src.subarray(ls, Math.min(end, i + 2)))
        }'`,
      );
    }
    return this.#bad(src, ls, i, end, "invalid-header", "field line");
  }

  /** Builds the head from `src[0, headEnd)`, decides framing, emits. */
  #finishHead(src: Uint8Array, headEnd: number, events: Event[]): void {
    // One decode per head; offsets into the bytes are offsets into the
    // string because each byte is one code unit.
    const text = decodeLatin1(src.subarray(0, headEnd), this.#hi < 0x80);
    const f = this.#fields;
    const nf = this.#nf;
    const headers: HeaderPairs = [];
    for (let k = 0; k < nf; k += 4) {
      headers.push([
        text.slice(f[k], f[k + 1]),
        text.slice(f[k + 2], f[k + 3]),
      ]);
    }
    const version = this.#minor === 1 ? "HTTP/1.1" : "HTTP/1.0";
    const s0 = this.#s0;
    if (this.#isRequest) {
      const head: RequestHead = {
        method: text.slice(s0, this.#s1),
        target: text.slice(this.#s1 + 1, this.#s2),
        version,
        headers,
      };
      const fr = framingOf(headers, this.#minor, true, false);
      this.#resetHead();
      this.#begin(head, fr, events);
      return;
    }
    const status = this.#s1;
    const head: ResponseHead = {
      version,
      status,
      reason: text.slice(this.#s2, this.#s3),
      headers,
    };
    this.#resetHead();
    if (status < 200 && status !== 101) {
      // Interim responses (RFC 9110 §15.2) are not forwarded: the hub
      // answers 100-continue itself. They are counted so a peer cannot keep
      // us reading 1xx forever.
      if (++this.#informational > this.#maxInformational) {
        throw new Http1ParseError(
          Http1ErrorCode.TooManyInformational,
          `Cannot parse response: more than ${this.#maxInformational} interim 1xx responses: current value is ${status}`,
        );
      }
      this.#state = HEAD;
      return;
    }
    // RFC 9112 §6.3 rules 1–2: responses to HEAD, 1xx, 204, 304 and 2xx to
    // CONNECT have no body whatever their fields say.
    const noBody = status === 101 || status === 204 || status === 304 ||
      this.#noBody || (this.#connect && status < 300);
    const fr = framingOf(headers, this.#minor, false, noBody);
    this.#begin(head, fr, events);
  }

  #begin(
    head: RequestHead | ResponseHead,
    fr: Framing,
    events: Event[],
  ): void {
    this.#framing = fr.kind;
    let framing: BodyFraming;
    switch (fr.kind) {
      case F_LENGTH:
        framing = { kind: "length", length: fr.length };
        this.#left = fr.length;
        break;
      case F_CHUNKED:
        framing = FRAMING_CHUNKED;
        this.#chunked.reset();
        break;
      case F_CLOSE:
        framing = FRAMING_CLOSE;
        break;
      default:
        framing = FRAMING_NONE;
    }
    (events as ParseEvent<RequestHead | ResponseHead>[]).push({
      type: "head",
      head,
      framing,
      keepAlive: fr.keepAlive,
    });
    if (fr.kind === F_NONE) {
      events.push({ type: "end" });
      this.#state = DONE;
    } else {
      this.#state = BODY;
    }
  }

  #feedBody(chunk: Uint8Array, pos: number, events: Event[]): number {
    const len = chunk.length;
    if (pos >= len) return pos;
    switch (this.#framing) {
      case F_LENGTH: {
        const avail = len - pos;
        const left = this.#left;
        const n = avail < left ? avail : left;
        events.push({
          type: "data",
          data: n === len ? chunk : chunk.subarray(pos, pos + n),
        });
        this.#left = left - n;
        if (left === n) {
          events.push({ type: "end" });
          this.#state = DONE;
        }
        return pos + n;
      }
      case F_CHUNKED: {
        const out = this.#out;
        const next = this.#chunked.decode(chunk, pos, out);
        for (let k = 0; k < out.length; k++) {
          events.push({ type: "data", data: out[k] });
        }
        out.length = 0;
        if (this.#chunked.done) {
          events.push({ type: "end" });
          this.#state = DONE;
        }
        return next;
      }
      default:
        // Close-delimited: everything until EOF is body.
        events.push({
          type: "data",
          data: pos === 0 ? chunk : chunk.subarray(pos),
        });
        return len;
    }
  }
}

/**
 * Whether a token equals `lower` (lowercase letters and "-") in any letter
 * case, without allocating a lowercase copy. OR-ing 0x20 folds only letters
 * onto `lower`'s characters: the other tchars that it could map onto a
 * letter or "-" are not tchars.
 */
function nameIs(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Splits a list-based field value (RFC 9110 §5.6.1) into lowercase elements, dropping empty ones. */
function listElements(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(",")) {
    const t = trimOws(part);
    if (t.length > 0) out.push(t.toLowerCase());
  }
  return out;
}

/** Trims SP and HTAB only (String.prototype.trim also eats obs-text NBSP). */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++;
  while (
    b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)
  ) {
    b--;
  }
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Parses a Content-Length value. A comma list of identical values is
 * accepted (RFC 9110 §8.6 lets a recipient take "42, 42" as 42); anything
 * but 1*DIGIT, or a value past `Number.MAX_SAFE_INTEGER`, is refused.
 */
function parseContentLength(value: string, previous: number): number {
  let result = previous;
  // Fast path: one value, digits only (the usual case) needs no split.
  const parts = value.includes(",") ? value.split(",") : [value];
  for (let k = 0; k < parts.length; k++) {
    const t = parts.length === 1 ? value : trimOws(parts[k]);
    let n = 0;
    let ok = t.length > 0 && t.length <= 16;
    for (let i = 0; ok && i < t.length; i++) {
      const d = t.charCodeAt(i) - 0x30;
      ok = d >= 0 && d <= 9;
      n = n * 10 + d;
    }
    if (!ok || n > Number.MAX_SAFE_INTEGER) {
      throw new Http1ParseError(
        Http1ErrorCode.InvalidContentLength,
        `Cannot parse Content-Length: current value is ${
          JSON.stringify(value)
        }`,
      );
    }
    if (result >= 0 && result !== n) {
      throw new Http1ParseError(
        Http1ErrorCode.InvalidContentLength,
        `Cannot parse Content-Length: differing values ${result} and ${n}`,
      );
    }
    result = n;
  }
  return result;
}

/**
 * Decides body framing and persistence from the fields (RFC 9112 §6.3, §9.3).
 *
 * @param noBody A response that has no body whatever its fields say.
 */
function framingOf(
  headers: HeaderPairs,
  minor: number,
  isRequest: boolean,
  noBody: boolean,
): Framing {
  let length = -1;
  let te: string | null = null;
  let close = false;
  let keepAliveToken = false;
  for (let k = 0; k < headers.length; k++) {
    const [name, value] = headers[k];
    // Dispatch on length first: most fields are none of the three.
    switch (name.length) {
      case 10:
        if (nameIs(name, "connection")) {
          // The usual values need no list parsing.
          if (value === "keep-alive") keepAliveToken = true;
          else if (value === "close") close = true;
          else {
            for (const t of listElements(value)) {
              if (t === "close") close = true;
              else if (t === "keep-alive") keepAliveToken = true;
            }
          }
        }
        break;
      case 14:
        if (!noBody && nameIs(name, "content-length")) {
          length = parseContentLength(value, length);
        }
        break;
      case 17:
        if (nameIs(name, "transfer-encoding")) {
          te = te === null ? value : te + "," + value;
        }
        break;
    }
  }
  // HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive"
  // (RFC 9112 §9.3).
  let keepAlive = !close && (minor === 1 || keepAliveToken);
  if (noBody) return { kind: F_NONE, length: 0, keepAlive };
  if (te !== null) {
    if (length >= 0) {
      // RFC 9112 §6.3 rule 3: "ought to be handled as an error"; a proxy
      // that picks one while the next hop picks the other is smuggled.
      throw new Http1ParseError(
        Http1ErrorCode.ConflictingFraming,
        `Cannot frame body: both Content-Length and Transfer-Encoding are present: current value is ${
          JSON.stringify(te)
        }`,
      );
    }
    const codings = te === "chunked" ? ["chunked"] : listElements(te);
    const last = codings.length - 1;
    const chunkedAt = codings.indexOf("chunked");
    if (isRequest) {
      // RFC 9112 §6.3 rule 4 (final coding not chunked → 400) and §6.1
      // (unknown codings → 501): only plain "chunked" can be forwarded
      // without decoding; and an HTTP/1.0 message with Transfer-Encoding
      // has faulty framing (§6.1).
      if (last !== 0 || chunkedAt !== 0 || minor === 0) {
        throw new Http1ParseError(
          Http1ErrorCode.UnsupportedTransferEncoding,
          `Cannot frame request body: only 'Transfer-Encoding: chunked' on HTTP/1.1 is supported: current value is ${
            JSON.stringify(te)
          }`,
        );
      }
      return { kind: F_CHUNKED, length: 0, keepAlive };
    }
    if (chunkedAt >= 0 && chunkedAt !== last) {
      // Chunked applied twice or under another coding: a sender MUST NOT
      // (RFC 9112 §6.1), and no reading of it is safe.
      throw new Http1ParseError(
        Http1ErrorCode.UnsupportedTransferEncoding,
        `Cannot frame response body: 'chunked' is not the final coding only: current value is ${
          JSON.stringify(te)
        }`,
      );
    }
    // HTTP/1.0 with Transfer-Encoding: faulty framing, read it but close the
    // connection afterwards (RFC 9112 §6.1).
    if (minor === 0) keepAlive = false;
    if (chunkedAt === last && last >= 0) {
      return { kind: F_CHUNKED, length: 0, keepAlive };
    }
    // RFC 9112 §6.3 rule 4: final coding not chunked → read until close.
    return { kind: F_CLOSE, length: 0, keepAlive: false };
  }
  if (length > 0) return { kind: F_LENGTH, length, keepAlive };
  if (length === 0 || isRequest) return { kind: F_NONE, length: 0, keepAlive };
  // RFC 9112 §6.3 rule 7: a response without framing fields ends at close.
  return { kind: F_CLOSE, length: 0, keepAlive: false };
}

/**
 * Parses HTTP/1.1 requests from a byte stream, one message at a time, as a
 * server (or the worker side of the PTTH channel) receives them.
 *
 * @example Parse a request that arrives in pieces
 * ```ts
 * import { RequestParser } from "./parser.ts";
 * const enc = new TextEncoder();
 * const parser = new RequestParser();
 * parser.feed(enc.encode("POST /x HTTP/1.1\r\nHost: a\r\nContent-Le"));
 * const { events, remaining } = parser.feed(enc.encode("ngth: 2\r\n\r\nhiGET"));
 * if (events[0].type !== "head" || events[0].head.method !== "POST") throw new Error();
 * if (events[1].type !== "data" || events[2].type !== "end") throw new Error();
 * if (remaining?.length !== 3) throw new Error(); // the next request starts
 * parser.reset();
 * ```
 */
export class RequestParser {
  readonly #p: MessageParser;

  /**
   * Creates a parser for the requests of one connection.
   *
   * @param options Limits; see {@linkcode ParserOptions}.
   * @throws {RangeError} When a limit is not a non-negative integer.
   */
  constructor(options: ParserOptions = {}) {
    this.#p = new MessageParser(true, options);
  }

  /**
   * Feeds bytes; stops at the end of one message.
   *
   * @param chunk Bytes received. Body `data` events are views into it, so it
   * must not be reused until they are consumed.
   * @returns The events, and the bytes after the end of the message (the next
   * pipelined request) when it ended inside `chunk`. In state "done", returns
   * no events and `chunk` itself as `remaining`.
   * @throws {Http1ParseError} When the bytes are not a valid request.
   */
  feed(chunk: Uint8Array): FeedResult<RequestHead> {
    return this.#p.feed(chunk) as FeedResult<RequestHead>;
  }

  /**
   * The peer closed its sending side.
   *
   * @returns `[]` between messages (state "idle" or "done").
   * @throws {Http1ParseError} `truncated` in the middle of a message.
   */
  eof(): ParseEvent<RequestHead>[] {
    return this.#p.eof() as ParseEvent<RequestHead>[];
  }

  /** Makes the parser ready for the next message on the same connection. */
  reset(): void {
    this.#p.reset();
  }

  /**
   * "idle" (no byte of a message yet; empty lines before a request-line do
   * not count), "head", "body" or "done".
   */
  get state(): ParserState {
    return this.#p.state;
  }
}

/**
 * Parses HTTP/1.1 responses from a byte stream, as a client (or the hub side
 * of the PTTH channel) receives them. Interim 1xx responses other than 101
 * are skipped.
 *
 * @example Parse the response to a HEAD request
 * ```ts
 * import { ResponseParser } from "./parser.ts";
 * const parser = new ResponseParser();
 * parser.expect("HEAD");
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
 * const { events } = parser.feed(bytes);
 * if (events[0].type !== "head" || events[0].framing.kind !== "none") throw new Error();
 * if (events[1].type !== "end" || parser.state !== "done") throw new Error();
 * ```
 */
export class ResponseParser {
  readonly #p: MessageParser;

  /**
   * Creates a parser for the responses of one connection.
   *
   * @param options Limits; see {@linkcode ParserOptions}.
   * @throws {RangeError} When a limit is not a non-negative integer.
   */
  constructor(options: ParserOptions = {}) {
    this.#p = new MessageParser(false, options);
  }

  /**
   * Prepares for the response to a request; call before each response (also
   * resets). Without a call the first response is read as one to GET.
   *
   * @param requestMethod The method of the request being answered: HEAD
   * means no body (RFC 9112 §6.3 rule 1), a 2xx to CONNECT too (rule 2).
   */
  expect(requestMethod: string): void {
    this.#p.expect(requestMethod);
  }

  /**
   * Feeds bytes; stops at the end of one (final) response.
   *
   * @param chunk Bytes received. Body `data` events are views into it.
   * @returns The events, and the bytes after the end of the response when it
   * ended inside `chunk` (after a 101, the bytes of the new protocol). In
   * state "done", returns no events and `chunk` itself as `remaining`.
   * @throws {Http1ParseError} When the bytes are not a valid response.
   */
  feed(chunk: Uint8Array): FeedResult<ResponseHead> {
    return this.#p.feed(chunk) as FeedResult<ResponseHead>;
  }

  /**
   * The peer closed its sending side.
   *
   * @returns `[{ type: "end" }]` for a close-delimited body, `[]` when idle
   * or done.
   * @throws {Http1ParseError} `truncated` in the middle of a message
   * (including after an interim response with no final one).
   */
  eof(): ParseEvent<ResponseHead>[] {
    return this.#p.eof() as ParseEvent<ResponseHead>[];
  }

  /**
   * Interim 1xx responses (other than 101) skipped since the last
   * {@linkcode ResponseParser.expect}. A client that sent
   * `Expect: 100-continue` starts sending the body once this is non-zero
   * (RFC 9110 §10.1.1).
   */
  get informational(): number {
    return this.#p.informational;
  }

  /** "idle" (no byte of a response yet), "head", "body" or "done". */
  get state(): ParserState {
    return this.#p.state;
  }
}
