/**
 * Seeded pseudo-random numbers and the open-loop workload: Poisson arrivals
 * with a discrete job-size mix. The same seed gives the same sequence on every
 * machine, so every system under test faces the identical arrival sequence.
 *
 * @module
 */

/** A uniform generator in [0, 1). */
export type Random = () => number;

/** mulberry32: a small, fast, well-mixed 32-bit PRNG (enough for workloads). */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An exponential variate with the given rate (events per unit of time). */
export function exponential(random: Random, rate: number): number {
  return -Math.log(1 - random()) / rate;
}

/** One weighted job size of a mix, in milliseconds of nominal work. */
export interface JobSize {
  ms: number;
  weight: number;
}

/** One scheduled request of the workload. */
export interface Arrival {
  /** Send time in ms from the start of the run. */
  atMs: number;
  /** Nominal job size in ms. */
  jobMs: number;
}

/** What defines a workload. */
export interface WorkloadSpec {
  seed: number;
  durationMs: number;
  /** Number of one-job-at-a-time servers the load is computed for. */
  servers: number;
  /** Offered load as a fraction of their capacity (0.8 = 80 %). */
  load: number;
  sizes: JobSize[];
}

/** Mean nominal job size of a mix, in ms. */
export function meanJobMs(sizes: JobSize[]): number {
  const total = sizes.reduce((s, x) => s + x.weight, 0);
  return sizes.reduce((s, x) => s + x.ms * x.weight, 0) / total;
}

/** Arrival rate (per ms) that offers `load` of `servers` for the mix. */
export function arrivalRatePerMs(spec: WorkloadSpec): number {
  return spec.load * spec.servers / meanJobMs(spec.sizes);
}

/** Picks one size of the mix with one uniform draw. */
export function pickSize(sizes: JobSize[], u: number): number {
  const total = sizes.reduce((s, x) => s + x.weight, 0);
  let acc = 0;
  for (const s of sizes) {
    acc += s.weight / total;
    if (u < acc) return s.ms;
  }
  return sizes[sizes.length - 1].ms;
}

/**
 * The whole arrival sequence of a workload: seeded Poisson arrivals (one
 * draw for the gap, one for the size, alternating) until `durationMs`.
 * Bounded: at most ten times the expected count.
 */
export function makeArrivals(spec: WorkloadSpec): Arrival[] {
  const random = mulberry32(spec.seed);
  const rate = arrivalRatePerMs(spec);
  const limit = Math.ceil(rate * spec.durationMs * 10) + 10;
  const out: Arrival[] = [];
  let t = 0;
  for (let i = 0; i < limit; i++) {
    t += exponential(random, rate);
    const jobMs = pickSize(spec.sizes, random());
    if (t >= spec.durationMs) break;
    out.push({ atMs: t, jobMs });
  }
  return out;
}
