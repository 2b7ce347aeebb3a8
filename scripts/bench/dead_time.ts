/**
 * Slot dead time: how long a one-job slot stayed idle after a job while
 * another request was already waiting somewhere in the system. In the ideal
 * central queue it is zero: the next request starts the instant a slot frees.
 * Whatever a balancer adds here is paid again by every request queued behind
 * it, which is why a fraction of a millisecond per job shows in the p99.
 *
 * Computed from what the app reported per job (start and end on the wall
 * clock, its process id) and when the client sent each request.
 *
 * @module
 */

/** Per request: sent (client), job start and end (app), the app's process. */
export interface JobTimes {
  /** Unix ms the client sent the request; NaN when unknown. */
  sentAt: Float64Array;
  /** Unix ms the job started at the app; NaN when unknown. */
  startAt: Float64Array;
  /** Unix ms the job ended at the app; NaN when unknown. */
  endAt: Float64Array;
  /** The app process (one slot each); 0 when unknown. */
  pid: Uint32Array;
}

/**
 * The idle gap (ms) of every slot between one job's end and its next job's
 * start, counted only when some request had been sent before that end and
 * started after it (work was waiting while the slot was free).
 *
 * @param t the per-request times
 * @returns the gaps, in no particular order
 */
export function deadTimes(t: JobTimes): number[] {
  const idx: number[] = [];
  for (let i = 0; i < t.pid.length; i++) {
    if (
      t.pid[i] !== 0 && !Number.isNaN(t.startAt[i]) &&
      !Number.isNaN(t.endAt[i]) && !Number.isNaN(t.sentAt[i])
    ) idx.push(i);
  }
  // Jobs by start; suffix minimum of send times: "was anything that started
  // after e sent before e?" becomes one binary search.
  const byStart = [...idx].sort((a, b) => t.startAt[a] - t.startAt[b]);
  const starts = Float64Array.from(byStart, (i) => t.startAt[i]);
  const minSentAfter = new Float64Array(byStart.length + 1).fill(Infinity);
  for (let k = byStart.length - 1; k >= 0; k--) {
    minSentAfter[k] = Math.min(minSentAfter[k + 1], t.sentAt[byStart[k]]);
  }
  const waiting = (e: number): boolean => {
    let lo = 0, hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid] > e) hi = mid;
      else lo = mid + 1;
    }
    return minSentAfter[lo] < e;
  };
  const perSlot = new Map<number, number[]>();
  for (const i of byStart) {
    const list = perSlot.get(t.pid[i]) ?? [];
    list.push(i);
    perSlot.set(t.pid[i], list);
  }
  const gaps: number[] = [];
  for (const list of perSlot.values()) {
    for (let k = 0; k + 1 < list.length; k++) {
      const end = t.endAt[list[k]];
      if (waiting(end)) gaps.push(Math.max(0, t.startAt[list[k + 1]] - end));
    }
  }
  return gaps;
}
