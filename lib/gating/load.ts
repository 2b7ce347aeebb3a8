/**
 * A gate on the load average, for hosts where CPU time is not the whole
 * story (the load average counts tasks waiting on disk too).
 *
 * @module
 */

import { type Clock, systemClock } from "../clock.ts";
import { admissionGate } from "./admission.ts";
import { type Probes, systemProbes } from "./probes.ts";
import type { Gate } from "./types.ts";

/** Options of {@linkcode waitForLoad}. */
export interface LoadOptions {
  /**
   * Where the load average and CPU count come from.
   *
   * @default {systemProbes()}
   */
  probes?: Probes;
  /**
   * The clock for re-checking while a caller waits.
   *
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Milliseconds between re-reads of the load average while a caller waits
   * (the kernel updates it every 5 s).
   *
   * @default {1000}
   */
  sampleInterval?: number;
  /**
   * Milliseconds between one admission and the next. The one-minute load
   * average takes tens of seconds to show a new job, so without a ramp (or
   * a {@linkcode maxConcurrent} gate beside it) a burst of callers is
   * admitted at once.
   *
   * @default {0}
   */
  rampDelay?: number;
}

/**
 * A gate that admits one more job while the one-minute load average per
 * online CPU is below `maxPerCpu`; one job is always admitted when none
 * runs, and where no load average is readable jobs run one at a time.
 *
 * @param maxPerCpu the load per CPU below which jobs are admitted, e.g. 0.8
 * @param options probes, clock and timing
 * @returns the gate
 * @throws {RangeError} when `maxPerCpu` is not a positive number
 *
 * @example Admit while the load is below 0.8 per CPU
 * ```ts
 * import { waitForLoad } from "./load.ts";
 * import { FakeProbes } from "./fake_probes.ts";
 * import { ManualClock } from "../clock.ts";
 * const gate = waitForLoad(0.8, {
 *   clock: new ManualClock(),
 *   probes: new FakeProbes({ cpus: 4, load: 1 }),
 * });
 * const signal = new AbortController().signal;
 * const a = await gate(signal);
 * const b = await gate(signal); // 1 / 4 < 0.8
 * a.done?.();
 * b.done?.();
 * ```
 */
export function waitForLoad(
  maxPerCpu: number,
  options: LoadOptions = {},
): Gate {
  if (!(maxPerCpu > 0 && Number.isFinite(maxPerCpu))) {
    throw new RangeError(
      `Cannot gate on load: maxPerCpu must be a positive number, current value is ${maxPerCpu}`,
    );
  }
  const probes = options.probes ?? systemProbes();
  const sampleInterval = options.sampleInterval ?? 1000;
  if (!(sampleInterval > 0)) {
    throw new RangeError(
      `Cannot gate on load: sampleInterval must be > 0, current value is ${sampleInterval}`,
    );
  }
  return admissionGate({
    clock: options.clock ?? systemClock,
    sampleInterval,
    rampDelay: options.rampDelay ?? 0,
    hasRoom: () => {
      const load = probes.loadAverage();
      return load !== undefined && load / probes.onlineCpus() < maxPerCpu;
    },
  });
}
