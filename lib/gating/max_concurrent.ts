/**
 * A gate that caps the number of jobs at once: the built-in behind
 * `--max-concurrent`.
 *
 * @module
 */

import { admissionGate } from "./admission.ts";
import type { Gate } from "./types.ts";

/**
 * A gate that admits while fewer than `n` of its tickets are not yet done.
 * Callers are admitted in the order they asked; it sets no timers.
 *
 * @param n the most jobs at once (an integer >= 1)
 * @returns the gate
 * @throws {RangeError} when `n` is not an integer >= 1
 *
 * @example At most two jobs
 * ```ts
 * import { maxConcurrent } from "./max_concurrent.ts";
 * const gate = maxConcurrent(2);
 * const signal = new AbortController().signal;
 * const a = await gate(signal);
 * const b = await gate(signal);
 * let third = false;
 * const c = gate(signal).then((t) => {
 *   third = true;
 *   return t;
 * });
 * await Promise.resolve();
 * if (third) throw new Error("over the cap");
 * a.done?.();
 * (await c).done?.();
 * b.done?.();
 * ```
 */
export function maxConcurrent(n: number): Gate {
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new RangeError(
      `Cannot cap concurrency: n must be an integer >= 1, current value is ${n}`,
    );
  }
  return admissionGate({ maxConcurrent: n });
}
