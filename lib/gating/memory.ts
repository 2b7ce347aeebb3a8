/**
 * A gate that admits jobs while enough memory is free: the built-in behind
 * `--gate-memory`.
 *
 * @module
 */

import { type Clock, systemClock } from "../clock.ts";
import { admissionGate } from "./admission.ts";
import { type Probes, systemProbes } from "./probes.ts";
import type { Gate } from "./types.ts";

/** Options of {@linkcode waitForMemory}. */
export interface MemoryOptions {
  /**
   * Where memory figures come from.
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
   * Milliseconds between re-reads of the memory figures while a caller waits.
   *
   * @default {250}
   */
  sampleInterval?: number;
}

/**
 * A gate that admits one more job while `bytes` of memory are free.
 *
 * Free memory is the smaller of the system's available memory
 * (`Deno.systemMemoryInfo().available`) and the headroom under a cgroup
 * memory limit, when there is one. Every admitted job reserves `bytes` until
 * it is done, because a job's memory use grows over its life and often peaks
 * at its end; that errs on the side of admitting too few. One job is always
 * admitted when none runs; where no memory figure is readable, jobs run one
 * at a time.
 *
 * @param bytes memory a job needs, in bytes
 * @param options probes, clock and sampling
 * @returns the gate
 * @throws {RangeError} when `bytes` is not a positive number
 *
 * @example Admit while 512 MiB per job are free
 * ```ts
 * import { waitForMemory } from "./memory.ts";
 * import { FakeProbes } from "./fake_probes.ts";
 * import { ManualClock } from "../clock.ts";
 * const MiB = 1024 ** 2;
 * const gate = waitForMemory(512 * MiB, {
 *   clock: new ManualClock(),
 *   probes: new FakeProbes({ memory: 1100 * MiB }),
 * });
 * const signal = new AbortController().signal;
 * const a = await gate(signal); // none runs
 * const b = await gate(signal); // 1100 - 512 >= 512
 * a.done?.();
 * b.done?.();
 * ```
 */
export function waitForMemory(
  bytes: number,
  options: MemoryOptions = {},
): Gate {
  if (!(bytes > 0 && Number.isFinite(bytes))) {
    throw new RangeError(
      `Cannot gate on memory: bytes must be a positive number, current value is ${bytes}`,
    );
  }
  const probes = options.probes ?? systemProbes();
  const sampleInterval = options.sampleInterval ?? 250;
  if (!(sampleInterval > 0)) {
    throw new RangeError(
      `Cannot gate on memory: sampleInterval must be > 0, current value is ${sampleInterval}`,
    );
  }
  return admissionGate({
    clock: options.clock ?? systemClock,
    sampleInterval,
    reservation: bytes,
    hasRoom: (jobs) => {
      const system = probes.memoryAvailable();
      const cgroup = probes.cgroupMemoryAvailable();
      const free = system === undefined
        ? cgroup
        : cgroup === undefined
        ? system
        : Math.min(system, cgroup);
      if (free === undefined) return false;
      let reserved = 0;
      for (const job of jobs) reserved += job.reserved;
      return free - reserved >= bytes;
    },
  });
}
