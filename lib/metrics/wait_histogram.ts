/**
 * A fixed log-scale histogram of durations for the status page: recording is
 * one `Math.log2` and one array increment, so the request path stays cheap,
 * and quantiles are read from the bucket counts with a relative error of at
 * most ±9 % (four buckets per doubling, the geometric middle reported).
 *
 * @module
 */

/** Waits below this many milliseconds fall into bucket 0 and read as 0. */
const FLOOR_MS = 0.1;
/** Buckets per doubling. */
const PER_OCTAVE = 4;
/** Bucket count: bucket 0 (below the floor), then up to 10 minutes. */
export const WAIT_BUCKETS: number = 1 +
  Math.ceil(Math.log2(600_000 / FLOOR_MS) * PER_OCTAVE);

/**
 * The bucket of a duration.
 *
 * @param ms the duration in milliseconds
 * @returns its bucket index, 0 to `WAIT_BUCKETS - 1`
 *
 * @example
 * ```ts
 * import { bucketOf } from "./wait_histogram.ts";
 * if (bucketOf(0) !== 0) throw new Error();
 * ```
 */
export function bucketOf(ms: number): number {
  if (!(ms > FLOOR_MS)) return 0;
  const i = Math.ceil(Math.log2(ms / FLOOR_MS) * PER_OCTAVE);
  return i < WAIT_BUCKETS ? i : WAIT_BUCKETS - 1;
}

/**
 * The value a bucket stands for: the geometric middle of its bounds.
 *
 * @param index a bucket index
 * @returns milliseconds (0 for bucket 0)
 */
export function bucketValue(index: number): number {
  if (index <= 0) return 0;
  // Three digits: more would only pretend a precision the buckets lack.
  return Number((FLOOR_MS * 2 ** ((index - 0.5) / PER_OCTAVE)).toPrecision(3));
}

/**
 * Reads a quantile from bucket counts.
 *
 * @param counts counts per bucket (length `WAIT_BUCKETS`)
 * @param total the sum of `counts`
 * @param q the quantile, 0 to 1
 * @returns milliseconds, or null when there is nothing counted
 *
 * @example The median of three waits
 * ```ts
 * import { bucketOf, quantile, WAIT_BUCKETS } from "./wait_histogram.ts";
 * const counts = new Uint32Array(WAIT_BUCKETS);
 * for (const ms of [10, 100, 1000]) counts[bucketOf(ms)]++;
 * const p50 = quantile(counts, 3, 0.5)!;
 * if (Math.abs(p50 - 100) > 10) throw new Error(String(p50));
 * ```
 */
export function quantile(
  counts: ArrayLike<number>,
  total: number,
  q: number,
): number | null {
  if (total <= 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen >= rank) return bucketValue(i);
  }
  return bucketValue(counts.length - 1);
}
