/**
 * The ideal balancer: one central FIFO queue in front of `servers` identical
 * one-job-at-a-time servers, with no cost of its own. Each request starts on
 * the first server to become free, in arrival order, never earlier than it
 * arrives.
 *
 * @module
 */

/** One request for the simulation. */
export interface SimJob {
  /** Arrival time, ms. */
  atMs: number;
  /** Service time, ms. */
  serviceMs: number;
}

/**
 * Latency (arrival → completion, ms) of every job, in input order. Jobs must
 * be sorted by arrival time.
 */
export function simulateFifo(
  jobs: readonly SimJob[],
  servers: number,
): number[] {
  if (!(servers >= 1)) throw new RangeError("servers must be ≥ 1");
  const freeAt = new Float64Array(servers); // when each server is next free
  const out = new Array<number>(jobs.length);
  let last = -Infinity;
  for (let i = 0; i < jobs.length; i++) {
    const { atMs, serviceMs } = jobs[i];
    if (atMs < last) throw new RangeError("jobs must be sorted by arrival");
    last = atMs;
    let k = 0;
    for (let j = 1; j < servers; j++) if (freeAt[j] < freeAt[k]) k = j;
    const start = Math.max(atMs, freeAt[k]);
    freeAt[k] = start + serviceMs;
    out[i] = freeAt[k] - atMs;
  }
  return out;
}

/**
 * Empirical service times: for each nominal job size, the durations measured
 * for it. `sample` draws one for a nominal size with the given uniform value.
 */
export class ServiceTimes {
  #bySize = new Map<number, Float64Array>();

  constructor(samples: Map<number, readonly number[]>) {
    for (const [ms, xs] of samples) {
      if (xs.length === 0) throw new RangeError(`no samples for ${ms} ms`);
      const a = Float64Array.from(xs);
      a.sort();
      this.#bySize.set(ms, a);
    }
  }

  /** One measured duration for `nominalMs`, chosen by `u` in [0, 1). */
  sample(nominalMs: number, u: number): number {
    const a = this.#bySize.get(nominalMs);
    if (!a) throw new RangeError(`no samples for ${nominalMs} ms`);
    return a[Math.min(a.length - 1, Math.floor(u * a.length))];
  }

  /** Mean measured duration for `nominalMs`. */
  mean(nominalMs: number): number {
    const a = this.#bySize.get(nominalMs);
    if (!a) return NaN;
    let s = 0;
    for (const v of a) s += v;
    return s / a.length;
  }

  /** Sizes with samples. */
  sizes(): number[] {
    return [...this.#bySize.keys()].sort((x, y) => x - y);
  }
}
