/**
 * Log lines gathered and written together: a busy process pays one write
 * per batch instead of a system call per line (issue 6: the synchronous
 * write of each job line was about 15 % of a worker's CPU).
 *
 * Lines are kept whole and in order; a batch is written in pieces of whole
 * lines of at most 4 KiB (PIPE_BUF), so lines never interleave, not even
 * with those of other processes writing to the same pipe. The batch goes out when the first
 * buffered line is `delayMs` old, when the next line would not fit in
 * `maxBytes`, or when
 * {@linkcode LineBuffer.flush} is called (urgent lines, exit, errors).
 *
 * @module
 */

/** Writes bytes synchronously; returns how many were written. */
export type SyncWrite = (bytes: Uint8Array) => number;

/** Runs `fn` once after `ms`, without keeping the process alive. */
export type FlushScheduler = (fn: () => void, ms: number) => void;

/** Options of {@linkcode LineBuffer}. */
export interface LineBufferOptions {
  /** Where batches go (for example `Deno.stderr.writeSync`). */
  write: SyncWrite;
  /** Longest time a line waits in the buffer, ms. @default {20} */
  delayMs?: number;
  /** Size of the buffer: a batch that would outgrow it is written at once. @default {65536} */
  maxBytes?: number;
  /**
   * Schedules the delayed write. @default {unrefTimeout} (a timer that does
   * not keep the process alive)
   */
  schedule?: FlushScheduler;
}

/**
 * A `setTimeout` that does not hold the process open: a line waiting for
 * its batch must not delay exit (exit flushes it, see `logger.ts`).
 * @param fn what to run
 * @param ms after how long
 */
export function unrefTimeout(fn: () => void, ms: number): void {
  Deno.unrefTimer(setTimeout(fn, ms));
}

const encoder = new TextEncoder();
const NEWLINE = 0x0a;
/** PIPE_BUF on Linux: a write up to this size to a pipe is atomic. */
const ATOMIC_BYTES = 4096;

/**
 * Buffers lines and writes them in batches.
 *
 * @example Two lines, one write
 * ```ts
 * import { LineBuffer } from "./line_buffer.ts";
 * const writes: string[] = [];
 * let later = () => {};
 * const buf = new LineBuffer({
 *   write: (b) => (writes.push(new TextDecoder().decode(b)), b.length),
 *   schedule: (fn) => (later = fn),
 * });
 * buf.push("one");
 * buf.push("two");
 * if (writes.join("") !== "") throw new Error("written too early");
 * later();
 * if (writes.join("") !== "one\ntwo\n" || writes.length !== 1) throw new Error();
 * ```
 */
export class LineBuffer {
  readonly #write: SyncWrite;
  readonly #delayMs: number;
  readonly #schedule: FlushScheduler;
  /**
   * Lines are encoded into this buffer as they come: the strings die young
   * and the batch waits outside the JavaScript heap, where the garbage
   * collector does not copy it from space to space.
   */
  readonly #buf: Uint8Array;
  #len = 0;
  #scheduled = false;
  readonly #onTimer = () => {
    this.#scheduled = false;
    this.flush();
  };

  /** @param options where batches go, how long a line may wait */
  constructor(options: LineBufferOptions) {
    this.#write = options.write;
    this.#delayMs = options.delayMs ?? 20;
    this.#buf = new Uint8Array(options.maxBytes ?? 65536);
    this.#schedule = options.schedule ?? unrefTimeout;
  }

  /** Whether lines wait to be written. */
  get pending(): boolean {
    return this.#len > 0;
  }

  /**
   * Adds a line (without its newline); it is written within `delayMs`, or
   * at once with the lines before it when the buffer is full.
   * @param line the line
   */
  push(line: string): void {
    // At most three bytes per UTF-16 code unit, plus the newline.
    const most = line.length * 3 + 1;
    if (this.#len + most > this.#buf.length) {
      this.flush();
      if (most > this.#buf.length) {
        this.#writeAll(encoder.encode(line + "\n"));
        return;
      }
    }
    this.#len += encoder.encodeInto(line, this.#buf.subarray(this.#len))
      .written;
    this.#buf[this.#len++] = NEWLINE;
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(this.#onTimer, this.#delayMs);
    }
  }

  /**
   * Writes every buffered line now (one write per 4 KiB of lines). A failed
   * write drops the batch (there is nowhere left to report it) instead of
   * throwing into the code that logged.
   */
  flush(): void {
    if (this.#len === 0) return;
    const bytes = this.#buf.subarray(0, this.#len);
    this.#len = 0;
    // The writes are synchronous: the buffer is free again afterwards.
    this.#writeAll(bytes);
  }

  #writeAll(bytes: Uint8Array): void {
    try {
      // Pieces of whole lines, each at most PIPE_BUF bytes: a pipe takes
      // such a write in one piece, so the lines of processes sharing
      // standard error (`--processes`) never interleave.
      let start = 0;
      while (start < bytes.length) {
        let end = start + ATOMIC_BYTES >= bytes.length
          ? bytes.length
          : start + bytes.subarray(start, start + ATOMIC_BYTES).lastIndexOf(
            NEWLINE,
          ) + 1;
        if (end === start) {
          // One line longer than PIPE_BUF: alone, as before batching.
          end = bytes.indexOf(NEWLINE, start + ATOMIC_BYTES) + 1;
        }
        let written = start;
        while (written < end) {
          written += this.#write(bytes.subarray(written, end));
        }
        start = end;
      }
    } catch {
      // Standard error closed or broken: the lines cannot go anywhere.
    }
  }
}
