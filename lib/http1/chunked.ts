/**
 * The chunked transfer coding (RFC 9112 §7.1): an incremental decoder that
 * the parser drives, and the pieces a writer needs to encode.
 *
 * @module
 */

import {
  allocBytes,
  CHAR_CLASS,
  CR,
  FIELD,
  HEX_VALUE,
  HTAB,
  LF,
  limitOption,
  SEMICOLON,
  showBytes,
  SP,
} from "./chars.ts";
import { Http1ParseError } from "./errors.ts";

// Decoder states. Numbers, not strings: the switch runs once per byte of the
// framing (never per byte of chunk data).
/** Before the first hex digit of a chunk-size. */
const SIZE_START = 0;
/** After at least one hex digit. */
const SIZE = 1;
/** BWS after the size: only more BWS or ";" may follow (RFC 9112 §7.1.1). */
const SIZE_BWS = 2;
/** Inside chunk extensions, skipped up to CR. */
const EXT = 3;
/** After the CR of the size line. */
const SIZE_LF = 4;
/** Inside chunk data. */
const DATA = 5;
/** After chunk data, expecting CR. */
const DATA_CR = 6;
/** After chunk data and CR, expecting LF. */
const DATA_LF = 7;
/** At the start of a trailer line (or of the final empty line). */
const TRAILER_START = 8;
/** Inside a trailer field line. */
const TRAILER = 9;
/** After the CR of a trailer field line. */
const TRAILER_LF = 10;
/** After the CR of the final empty line. */
const END_LF = 11;
/** The last chunk and the trailer section are consumed. */
const DONE = 12;

/**
 * 16 hex digits hold any size up to 2^64; the value check below catches
 * anything past `Number.MAX_SAFE_INTEGER` first. The cap only stops a peer
 * from sending endless leading zeros.
 */
const MAX_SIZE_DIGITS = 16;
/** Largest value that can take another hex digit without passing 2^53 − 1. */
const MAX_BEFORE_DIGIT = Math.floor(Number.MAX_SAFE_INTEGER / 16);

/** Options of {@linkcode ChunkedDecoder}. */
export interface ChunkedDecoderOptions {
  /**
   * Most bytes of chunk extensions on one size line, from the first ";" or
   * BWS to the CR. Extensions are skipped, so this only bounds the work a
   * peer can make us do per chunk.
   *
   * @default {4096}
   */
  maxChunkExtensionBytes?: number;
  /**
   * Most bytes of the trailer section, CRLFs included (RFC 9112 §7.1.2).
   * Trailer fields are read and dropped.
   *
   * @default {16384}
   */
  maxTrailerBytes?: number;
}

/**
 * An incremental decoder of a chunked message body (RFC 9112 §7.1). It never
 * copies chunk data: {@linkcode ChunkedDecoder.decode} pushes views into the
 * input. Chunk extensions are skipped and trailer fields dropped, each within
 * a byte limit. Input may be split at any byte.
 *
 * @example Decode a body that arrives in two pieces
 * ```ts
 * import { ChunkedDecoder } from "./chunked.ts";
 * const dec = new ChunkedDecoder();
 * const out: Uint8Array[] = [];
 * const enc = new TextEncoder();
 * dec.decode(enc.encode("5;x=1\r\nhel"), 0, out);
 * const piece = enc.encode("lo\r\n0\r\n\r\nNEXT");
 * const end = dec.decode(piece, 0, out);
 * if (!dec.done || end !== piece.length - 4) throw new Error();
 * if (out.map((b) => new TextDecoder().decode(b)).join("") !== "hello") throw new Error();
 * ```
 */
export class ChunkedDecoder {
  readonly #maxExt: number;
  readonly #maxTrailer: number;
  #state = SIZE_START;
  /** Value of the size digits so far, then bytes of data left in the chunk. */
  #size = 0;
  #digits = 0;
  #extBytes = 0;
  #trailerBytes = 0;

  /**
   * Creates a decoder for one message body.
   *
   * @param options Limits on chunk extensions and trailers.
   */
  constructor(options: ChunkedDecoderOptions = {}) {
    this.#maxExt = limitOption(
      "maxChunkExtensionBytes",
      options.maxChunkExtensionBytes,
      4096,
    );
    this.#maxTrailer = limitOption(
      "maxTrailerBytes",
      options.maxTrailerBytes,
      16384,
    );
  }

  /** `true` once the last chunk and the trailer section are consumed. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** Makes the decoder ready for another body, keeping its limits. */
  reset(): void {
    this.#state = SIZE_START;
    this.#size = 0;
    this.#digits = 0;
    this.#extBytes = 0;
    this.#trailerBytes = 0;
  }

  /**
   * Decodes from `input` starting at `offset`.
   *
   * @param input Bytes received.
   * @param offset Where the body's bytes start in `input`.
   * @param out Receives chunk data, as views into `input` (no copies).
   * @returns The index just after the last consumed byte: `input.length`
   * unless the body ended inside `input` (then {@linkcode ChunkedDecoder.done}
   * is `true` and the rest belongs to the next message).
   * @throws {Http1ParseError} `invalid-chunk`, `bare-cr`, `invalid-header`
   * (a trailer line ending in a lone LF) or `trailers-too-large`.
   */
  decode(input: Uint8Array, offset: number, out: Uint8Array[]): number {
    const end = input.length;
    let i = offset;
    let state = this.#state;
    while (i < end && state !== DONE) {
      if (state === DATA) {
        // The hot path: hand out as much data as the chunk has, as a view.
        const left = this.#size;
        const avail = end - i;
        if (avail <= left) {
          out.push(i === 0 ? input : input.subarray(i));
          this.#size = left - avail;
          i = end;
          if (this.#size === 0) state = DATA_CR;
          break;
        }
        out.push(input.subarray(i, i + left));
        this.#size = 0;
        i += left;
        state = DATA_CR;
        continue;
      }
      const c = input[i];
      switch (state) {
        case SIZE_START:
        case SIZE: {
          const d = HEX_VALUE[c];
          if (d >= 0) {
            // chunk-size = 1*HEXDIG; refuse sizes that a double cannot hold
            // exactly rather than wrap around (the smuggling of CVE-2015-3183
            // class bugs comes from parsers that disagree on the size).
            if (
              ++this.#digits > MAX_SIZE_DIGITS || this.#size > MAX_BEFORE_DIGIT
            ) {
              this.#fail(
                "invalid-chunk",
                `Cannot parse chunk size: too large: current value is '${this.#sizeText()}${
                  String.fromCharCode(c)
                }…'`,
              );
            }
            this.#size = this.#size * 16 + d;
            state = SIZE;
            i++;
            break;
          }
          if (state === SIZE_START) {
            this.#failSize(c, input, i);
          }
          if (c === CR) {
            state = SIZE_LF;
          } else if (c === SEMICOLON) {
            state = EXT;
            this.#extBytes = 1;
          } else if (c === SP || c === HTAB) {
            state = SIZE_BWS;
            this.#extBytes = 1;
          } else {
            this.#failSize(c, input, i);
          }
          i++;
          break;
        }
        case SIZE_BWS:
          if (c === SEMICOLON) state = EXT;
          else if (c !== SP && c !== HTAB) {
            // "5 \r\n" or "5 5\r\n": BWS is only allowed before ";".
            this.#fail(
              "invalid-chunk",
              `Cannot parse chunk size: whitespace not followed by ';': current value is '${this.#sizeText()} ${
                showBytes(new Uint8Array([c]))
              }'`,
            );
          }
          this.#countExt();
          i++;
          break;
        case EXT: {
          // Skip extensions in bulk up to the CR; only the bytes a
          // quoted-string or token may hold are allowed (RFC 9112 §7.1.1).
          let j = i;
          while (j < end && (CHAR_CLASS[input[j]] & FIELD) !== 0) j++;
          this.#extBytes += j - i;
          if (this.#extBytes > this.#maxExt) {
            this.#fail(
              "invalid-chunk",
              `Cannot parse chunk extensions: longer than ${this.#maxExt} bytes: current value is ${this.#extBytes} bytes`,
            );
          }
          i = j;
          if (j === end) break;
          const e = input[j];
          if (e === CR) state = SIZE_LF;
          else if (e === LF) {
            this.#fail(
              "invalid-chunk",
              "Cannot parse chunk size line: ends in a lone LF, CRLF is required",
            );
          } else {
            this.#fail(
              "invalid-chunk",
              `Cannot parse chunk extensions: control character: current value is '${
                showBytes(new Uint8Array([e]))
              }'`,
            );
          }
          i++;
          break;
        }
        case SIZE_LF:
          if (c !== LF) {
            this.#fail(
              "bare-cr",
              `Cannot parse chunk size line: CR not followed by LF: current value is '\\r${
                showBytes(new Uint8Array([c]))
              }'`,
            );
          }
          i++;
          if (this.#size === 0) {
            state = TRAILER_START;
            this.#trailerBytes = 0;
          } else {
            state = DATA;
          }
          this.#digits = 0;
          break;
        case DATA_CR:
          if (c !== CR) this.#failDataEnd(c);
          state = DATA_LF;
          i++;
          break;
        case DATA_LF:
          if (c !== LF) this.#failDataEnd(c);
          state = SIZE_START;
          this.#size = 0;
          i++;
          break;
        case TRAILER_START:
        case TRAILER: {
          // Trailer fields are dropped (RFC 9112 §7.1.2 lets a recipient
          // discard them); only line structure and size are checked, so a
          // peer cannot hide a lone LF or CR that another parser would read
          // differently.
          if (state === TRAILER_START && c === CR) {
            state = END_LF;
            this.#countTrailer(1);
            i++;
            break;
          }
          let j = i;
          while (j < end && (CHAR_CLASS[input[j]] & FIELD) !== 0) j++;
          this.#countTrailer(j - i);
          state = TRAILER;
          i = j;
          if (j === end) break;
          const e = input[j];
          if (e === CR) state = TRAILER_LF;
          else if (e === LF) {
            this.#fail(
              "invalid-header",
              "Cannot parse trailer section: line ends in a lone LF, CRLF is required",
            );
          } else {
            this.#fail(
              "invalid-header",
              `Cannot parse trailer field: control character: current value is '${
                showBytes(new Uint8Array([e]))
              }'`,
            );
          }
          this.#countTrailer(1);
          i++;
          break;
        }
        case TRAILER_LF:
        case END_LF:
          if (c !== LF) {
            this.#fail(
              "bare-cr",
              `Cannot parse trailer section: CR not followed by LF: current value is '\\r${
                showBytes(new Uint8Array([c]))
              }'`,
            );
          }
          this.#countTrailer(1);
          state = state === END_LF ? DONE : TRAILER_START;
          i++;
          break;
      }
    }
    this.#state = state;
    return i;
  }

  #countExt(): void {
    if (++this.#extBytes > this.#maxExt) {
      this.#fail(
        "invalid-chunk",
        `Cannot parse chunk extensions: longer than ${this.#maxExt} bytes: current value is ${this.#extBytes} bytes`,
      );
    }
  }

  #countTrailer(n: number): void {
    this.#trailerBytes += n;
    if (this.#trailerBytes > this.#maxTrailer) {
      this.#fail(
        "trailers-too-large",
        `Cannot parse trailer section: larger than ${this.#maxTrailer} bytes: current value is ${this.#trailerBytes} bytes`,
      );
    }
  }

  /** The size digits read so far, as received up to letter case. */
  #sizeText(): string {
    if (this.#digits === 0) return "";
    return this.#size.toString(16).padStart(this.#digits, "0");
  }

  #failSize(c: number, input: Uint8Array, i: number): never {
    if (c === LF) {
      this.#fail(
        "invalid-chunk",
        `Cannot parse chunk size line: ends in a lone LF, CRLF is required: current value is '${this.#sizeText()}'`,
      );
    }
    // Show the rest of the size as far as it arrived, up to the line end.
    let j = i;
    const stop = Math.min(input.length, i + 16);
    while (j < stop && input[j] !== CR && input[j] !== LF) j++;
    const shown = this.#sizeText() + showBytes(input.subarray(i, j), 16);
    this.#fail(
      "invalid-chunk",
      `Cannot parse chunk size: current value is '${shown}'`,
    );
  }

  #failDataEnd(c: number): never {
    this.#fail(
      "invalid-chunk",
      `Cannot parse chunk: data not followed by CRLF: current value is '${
        showBytes(new Uint8Array([c]))
      }'`,
    );
  }

  #fail(code: Http1ParseError["code"], message: string): never {
    throw new Http1ParseError(code, message);
  }
}

/**
 * The size line for a chunk of `size` bytes: the size in hex and CRLF
 * (RFC 9112 §7.1). Write it, the data, then {@linkcode CHUNK_END}; for small
 * data {@linkcode encodeChunk} does all three in one buffer.
 *
 * @param size The chunk's length in bytes; 0 starts the last chunk, so
 * callers normally skip empty writes instead.
 * @returns The bytes of the size line. Like every encoder result here it may
 * be a view into a shared slab: write it or copy it, never transfer its
 * `buffer` or write into it.
 * @throws {RangeError} When `size` is not a non-negative safe integer.
 *
 * @example Frame a large buffer without copying it
 * ```ts
 * import { CHUNK_END, chunkHeader } from "./chunked.ts";
 * const data = new Uint8Array(70000);
 * const parts = [chunkHeader(data.length), data, CHUNK_END];
 * if (new TextDecoder().decode(parts[0]) !== "11170\r\n") throw new Error();
 * ```
 */
export function chunkHeader(size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(
      `Cannot frame chunk: size must be a non-negative safe integer: current value is ${size}`,
    );
  }
  const hex = size.toString(16);
  const out = allocBytes(hex.length + 2);
  for (let i = 0; i < hex.length; i++) out[i] = hex.charCodeAt(i);
  out[hex.length] = CR;
  out[hex.length + 1] = LF;
  return out;
}

/** CRLF that ends a chunk's data. Shared: do not modify. */
export const CHUNK_END: Uint8Array = new Uint8Array([CR, LF]);

/** "0\r\n\r\n": the last chunk with no trailer fields. Shared: do not modify. */
export const LAST_CHUNK: Uint8Array = new Uint8Array([0x30, CR, LF, CR, LF]);

/**
 * One chunk (size line, data, CRLF) in one new buffer, so a small write is
 * one syscall. Copies `data`; for large data write {@linkcode chunkHeader},
 * the data and {@linkcode CHUNK_END} instead.
 *
 * @param data The chunk's data.
 * @returns The framed chunk (for small chunks a view into a shared slab: do
 * not transfer its `buffer`); an empty array when `data` is empty, because a
 * chunk of size 0 would end the body.
 *
 * @example Frame a small write
 * ```ts
 * import { encodeChunk } from "./chunked.ts";
 * const framed = encodeChunk(new TextEncoder().encode("hello"));
 * if (new TextDecoder().decode(framed) !== "5\r\nhello\r\n") throw new Error();
 * ```
 */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const n = data.length;
  if (n === 0) return new Uint8Array(0);
  const hex = n.toString(16);
  const out = allocBytes(hex.length + n + 4);
  for (let i = 0; i < hex.length; i++) out[i] = hex.charCodeAt(i);
  let p = hex.length;
  out[p++] = CR;
  out[p++] = LF;
  out.set(data, p);
  p += n;
  out[p++] = CR;
  out[p] = LF;
  return out;
}
