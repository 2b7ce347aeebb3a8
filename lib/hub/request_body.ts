/**
 * A consumer's request body on its way to a worker: streamed with
 * backpressure, counted against `--max-body-size`, and remembered while it is
 * small so that it can be sent again to a second worker when the first one
 * failed before answering (DESIGN.md: at most one re-dispatch, and only when
 * the body was not yet streamed or fit the replay buffer).
 *
 * @module
 */

import { HubError } from "./errors.ts";

/** Bytes of a body kept for a possible re-dispatch. */
export const REPLAY_BUFFER_BYTES = 64 * 1024;

/**
 * Bodies of a declared length up to this size are read whole before the
 * request is queued (as nginx buffers request bodies), so a slow uploader
 * never holds a worker, and are sent with the head in one write.
 */
export const SMALL_BODY_BYTES = 64 * 1024;

/** Size of the reused buffer a body of known length is read into. */
const BYOB_READ_BYTES = 64 * 1024;

/**
 * A request body that can be read once, and replayed when what was read so
 * far still fits the replay buffer.
 *
 * @example Replay a small body
 * ```ts
 * import { RequestBody } from "./request_body.ts";
 * const body = new RequestBody(new Blob(["hello"]).stream(), 5);
 * for await (const _ of body.chunks()) { /* first worker *\/ }
 * let text = "";
 * for await (const c of body.chunks()) text += new TextDecoder().decode(c);
 * if (text !== "hello") throw new Error();
 * ```
 */
export class RequestBody {
  /** The declared length (`Content-Length`), or null for chunked. */
  readonly length: number | null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #byob: ReadableStreamBYOBReader | null = null;
  #buf: Uint8Array<ArrayBuffer> | null = null;
  #stream: ReadableStream<Uint8Array>;
  #kept: Uint8Array[] = [];
  #whole: Uint8Array | null = null;
  #read = 0;
  #ended = false;
  #maxBytes: number;
  #replayBytes: number;

  /**
   * @param stream the consumer's body
   * @param length the declared length, or null
   * @param options `maxBytes` (@default {Infinity}) and `replayBytes` (@default {REPLAY_BUFFER_BYTES})
   */
  constructor(
    stream: ReadableStream<Uint8Array>,
    length: number | null,
    options: { maxBytes?: number; replayBytes?: number } = {},
  ) {
    this.#stream = stream;
    this.length = length;
    this.#maxBytes = options.maxBytes ?? Infinity;
    this.#replayBytes = options.replayBytes ?? REPLAY_BUFFER_BYTES;
  }

  /** Bytes read from the consumer so far. */
  get bytesRead(): number {
    return this.#read;
  }

  /** Whether {@linkcode RequestBody.chunks} can start again from the first byte. */
  get replayable(): boolean {
    return this.#read <= this.#replayBytes;
  }

  /**
   * The next chunk from the consumer. A body of known length is read into
   * one reused buffer (a BYOB read), so streaming a large upload allocates
   * nothing per chunk: each chunk is written to the worker before the next
   * read. A chunked body is read with a default reader, because Deno's
   * chunked request bodies are much slower read that way (measured).
   */
  async #next(): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (this.length !== null && !this.#reader) {
      if (!this.#byob) {
        try {
          this.#byob = this.#stream.getReader({ mode: "byob" });
        } catch {
          // Not a byte stream: fall back to the default reader.
        }
      }
      if (this.#byob) {
        const buf = this.#buf ?? new Uint8Array(BYOB_READ_BYTES);
        const r = await this.#byob.read(buf);
        // The read transferred the buffer: reuse the one it returned.
        if (r.value) this.#buf = new Uint8Array(r.value.buffer as ArrayBuffer);
        return r as ReadableStreamReadResult<Uint8Array>;
      }
    }
    this.#reader ??= this.#stream.getReader();
    return await this.#reader.read();
  }

  /**
   * The whole body, when it is declared small enough to send in one write.
   * @param limit the largest body read at once
   * @returns the bytes, or null when the body is larger or of unknown length
   */
  async readSmall(limit: number): Promise<Uint8Array | null> {
    if (this.#whole) return this.#whole;
    if (this.length === null || this.length > limit || this.#read > 0) {
      return null;
    }
    const parts: Uint8Array[] = [];
    for await (const c of this.chunks()) parts.push(c.slice());
    let out = parts[0] ?? new Uint8Array(0);
    if (parts.length > 1) {
      out = new Uint8Array(this.#read);
      let off = 0;
      for (const p of parts) {
        out.set(p, off);
        off += p.length;
      }
    }
    // Kept whole: a re-dispatch sends it again in one write.
    this.#whole = out;
    return out;
  }

  /**
   * Yields the body from its first byte: what was kept, then the rest from
   * the consumer.
   * @returns the chunks
   * @throws {HubError} `body-too-large` past `maxBytes`
   * @throws {Error} when a replay is asked for after the buffer overflowed
   */
  async *chunks(): AsyncGenerator<Uint8Array> {
    if (!this.replayable) {
      throw new Error("request body was streamed beyond the replay buffer");
    }
    for (const k of this.#kept.slice()) yield k;
    if (this.#ended) return;
    for (;;) {
      const { value, done } = await this.#next();
      if (done) {
        this.#ended = true;
        return;
      }
      if (value.length === 0) continue;
      this.#read += value.length;
      if (this.#read > this.#maxBytes) {
        throw new HubError(
          "body-too-large",
          `request body exceeds --max-body-size (${this.#maxBytes} bytes)`,
        );
      }
      // Kept chunks must own their bytes: the read buffer is reused.
      if (this.#read <= this.#replayBytes) this.#kept.push(value.slice());
      else this.#kept.length = 0;
      yield value;
    }
  }

  /** Stops reading the consumer's body (the request is over). */
  cancel(): void {
    const r = this.#reader ?? this.#byob;
    if (r) r.cancel().catch(() => {});
    else this.#stream.cancel().catch(() => {});
  }
}
