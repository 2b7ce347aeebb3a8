/**
 * The thin adapter between a socket and the I/O-free HTTP/1.1 codec: reads
 * into fresh buffers (the codec hands out views of them, so a buffer is never
 * reused) and lets the caller put back bytes it did not consume.
 *
 * @module
 */

/** The part of `Deno.Conn` the reader needs. */
export interface Readable {
  /** Reads into `p`; resolves to the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
}

/** Size of a read while streaming a body: large reads keep syscalls few. */
export const BODY_READ_SIZE = 64 * 1024;
/** Size of the first read of a message: most heads and small bodies fit. */
export const HEAD_READ_SIZE = 16 * 1024;

/**
 * Reads chunks from a connection, with one level of push-back.
 *
 * @example Read what a peer sends
 * ```ts
 * import { ConnReader } from "./conn_reader.ts";
 * const data = [new TextEncoder().encode("hi")];
 * const reader = new ConnReader({
 *   read(p) {
 *     const next = data.shift();
 *     if (!next) return Promise.resolve(null);
 *     p.set(next);
 *     return Promise.resolve(next.length);
 *   },
 * });
 * const chunk = await reader.read();
 * if (chunk?.length !== 2) throw new Error();
 * ```
 */
export class ConnReader {
  #conn: Readable;
  #back: Uint8Array | null = null;

  /** @param conn the socket (or anything with `read`) */
  constructor(conn: Readable) {
    this.#conn = conn;
  }

  /** Whether bytes were put back and will be returned by the next read. */
  get buffered(): boolean {
    return this.#back !== null;
  }

  /**
   * The next chunk: put-back bytes first, else a fresh read.
   * @param size the buffer size of a fresh read @default {HEAD_READ_SIZE}
   * @returns a chunk (never empty), or null at end of stream
   */
  async read(size: number = HEAD_READ_SIZE): Promise<Uint8Array | null> {
    if (this.#back) {
      const back = this.#back;
      this.#back = null;
      return back;
    }
    const buf = new Uint8Array(size);
    const n = await this.#conn.read(buf);
    return n === null ? null : buf.subarray(0, n);
  }

  /**
   * Puts bytes back in front of the stream.
   * @param bytes the bytes not consumed
   */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#back) {
      const merged = new Uint8Array(bytes.length + this.#back.length);
      merged.set(bytes);
      merged.set(this.#back, bytes.length);
      this.#back = merged;
    } else {
      this.#back = bytes;
    }
  }
}

/**
 * Writes all of `data`, whatever the socket's short writes.
 * @param conn the socket
 * @param data the bytes
 */
export async function writeAll(
  conn: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < data.length) {
    off += await conn.write(off === 0 ? data : data.subarray(off));
  }
}

/**
 * Joins byte arrays into one.
 * @param parts the arrays
 * @returns one array (the only part itself when there is one)
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
