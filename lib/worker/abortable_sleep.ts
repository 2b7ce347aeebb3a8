/**
 * Waiting that a shutdown cuts short.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (never
 * rejects: the caller checks the signal).
 *
 * @param ms how long to wait
 * @param signal cuts the wait short
 * @returns resolves when the time is up or the signal aborted
 *
 * @example
 * ```ts
 * import { abortableSleep } from "./abortable_sleep.ts";
 * const stop = new AbortController();
 * stop.abort();
 * await abortableSleep(60_000, stop.signal); // returns at once
 * ```
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
