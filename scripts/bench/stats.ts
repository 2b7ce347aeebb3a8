/**
 * Latency statistics: nearest-rank percentiles over a sorted copy.
 *
 * @module
 */

/** Sorts a copy ascending (numeric). */
export function sorted(values: readonly number[]): Float64Array {
  const a = Float64Array.from(values);
  a.sort();
  return a;
}

/**
 * Nearest-rank percentile of an ascending array: the smallest value such that
 * at least `p` % of the values are ≤ it. NaN for an empty array.
 */
export function percentile(sortedValues: ArrayLike<number>, p: number): number {
  const n = sortedValues.length;
  if (n === 0) return NaN;
  if (p <= 0) return sortedValues[0];
  if (p >= 100) return sortedValues[n - 1];
  const rank = Math.ceil((p * n) / 100 - 1e-9); // guard 99.9 % of 1000 = 999.0000000000001
  return sortedValues[Math.min(n, Math.max(1, rank)) - 1];
}

/** The usual summary of a latency sample, in the sample's unit. */
export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Summarises a sample (unsorted input is fine). */
export function summarize(values: readonly number[]): Summary {
  const s = sorted(values);
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    mean: s.length ? sum / s.length : NaN,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: s.length ? s[s.length - 1] : NaN,
  };
}

/** The percentiles drawn on the chart: 50 … 99.9 on a "nines" scale. */
export function curvePercentiles(): number[] {
  const out: number[] = [];
  for (let i = 0; i <= 60; i++) {
    // x = -log10(1 - p/100) from log10(2) (p50) to 3 (p99.9)
    const x = Math.log10(2) + (3 - Math.log10(2)) * i / 60;
    out.push(100 * (1 - Math.pow(10, -x)));
  }
  return out;
}
