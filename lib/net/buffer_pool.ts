/**
 * Read buffers used again and again, for reads whose bytes are copied out
 * before the buffer goes back: in Deno a new 16 KiB `Uint8Array` costs a few
 * microseconds (allocation, zeroing, external-memory accounting), a good part
 * of what a proxy spends on a small response.
 *
 * A buffer is taken for one read and given back once nothing refers to its
 * bytes any more. Never give back a buffer whose bytes (or views of them)
 * were handed on: the next read overwrites them.
 *
 * @module
 */

import type { Readable } from "./conn_reader.ts";

/**
 * A free list of equal-sized buffers. It keeps at most `keep` of them; more
 * given back are left to the garbage collector, so a burst of concurrent
 * reads does not pin its peak memory for ever.
 *
 * @example Read into a pooled buffer and copy what is kept
 * ```ts
 * import { BufferPool } from "./buffer_pool.ts";
 * const pool = new BufferPool(1024, 4);
 * const buf = pool.take();
 * buf.set([1, 2, 3]);
 * const kept = buf.slice(0, 3); // a copy: the buffer can go back
 * pool.give(buf);
 * if (pool.take() !== buf || kept[2] !== 3) throw new Error();
 * ```
 */
export class BufferPool {
  /** The size of every buffer. */
  readonly size: number;
  #keep: number;
  #free: Uint8Array[] = [];

  /**
   * @param size bytes per buffer
   * @param keep the most buffers kept for reuse
   */
  constructor(size: number, keep: number) {
    this.size = size;
    this.#keep = keep;
  }

  /** Buffers waiting to be taken. */
  get free(): number {
    return this.#free.length;
  }

  /**
   * A buffer of {@linkcode BufferPool.size} bytes that nobody else holds;
   * its contents are whatever the last user left.
   * @returns the buffer
   */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  /**
   * Reads once from `conn` into a buffer of this pool. The caller gives the
   * buffer back once nothing refers to its bytes.
   * @param conn the socket (or anything with `read`)
   * @returns the buffer and the byte count, or null at the end of the stream
   * (the buffer has gone back then, as when the read fails)
   */
  async read(conn: Readable): Promise<{ buf: Uint8Array; n: number } | null> {
    const buf = this.take();
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch (err) {
      this.give(buf);
      throw err;
    }
    if (n === null) {
      this.give(buf);
      return null;
    }
    return { buf, n };
  }

  /**
   * Gives a buffer back. The caller must not use it, nor any view of it,
   * afterwards.
   * @param buf a buffer from {@linkcode BufferPool.take}
   */
  give(buf: Uint8Array): void {
    // A buffer of another size, or one a transfer detached, is not kept.
    if (buf.byteLength !== this.size || this.#free.length >= this.#keep) {
      return;
    }
    this.#free.push(buf);
  }
}
