/**
 * Probes whose figures a test sets by hand, for gates that must be tested
 * without the real machine or the real clock.
 *
 * @module
 */

import type { CpuQuota, CpuTimes, Probes } from "./probes.ts";

/** Initial figures of a {@linkcode FakeProbes}. */
export interface FakeProbesOptions {
  /**
   * Online CPUs (also the `cpuN` lines of the fake `/proc/stat`).
   *
   * @default {4}
   */
  cpus?: number;
  /**
   * Whether `/proc/stat` exists; without it gates fall back to the load average.
   *
   * @default {true}
   */
  procStat?: boolean;
  /**
   * The one-minute load average; `undefined` = unavailable.
   *
   * @default {undefined}
   */
  load?: number;
  /**
   * A cgroup CPU limit in CPUs; `undefined` = none.
   *
   * @default {undefined}
   */
  quotaCpus?: number;
  /**
   * Whether the limited cgroup's CPU usage is readable.
   *
   * @default {true}
   */
  quotaUsage?: boolean;
  /**
   * Available system memory in bytes; `undefined` = unknown.
   *
   * @default {undefined}
   */
  memory?: number;
  /**
   * Bytes left under a cgroup memory limit; `undefined` = no limit.
   *
   * @default {undefined}
   */
  cgroupMemory?: number;
}

/**
 * Hand-set {@linkcode Probes}. CPU counters only move through
 * {@linkcode FakeProbes.spend} or {@linkcode FakeProbes.run}, so a test says
 * how busy the CPUs were over each stretch of fake time.
 *
 * @example Two of four CPUs busy for one second
 * ```ts
 * import { FakeProbes } from "./fake_probes.ts";
 * import { ManualClock } from "../clock.ts";
 * const probes = new FakeProbes({ cpus: 4 });
 * const before = probes.cpuTimes()!;
 * probes.run(new ManualClock(), 1000, 2);
 * const after = probes.cpuTimes()!;
 * const idleShare = (after.idle - before.idle) / (after.total - before.total);
 * if (idleShare !== 0.5) throw new Error(`idle share ${idleShare}`);
 * ```
 */
export class FakeProbes implements Probes {
  /** Online CPUs. */
  cpus: number;
  /** Whether `/proc/stat` exists. */
  procStat: boolean;
  /** The one-minute load average; `undefined` = unavailable. */
  load: number | undefined;
  /** A cgroup CPU limit in CPUs; `undefined` = none. */
  quotaCpus: number | undefined;
  /** Whether the limited cgroup's usage is readable. */
  quotaUsage: boolean;
  /** Available system memory in bytes; `undefined` = unknown. */
  memory: number | undefined;
  /** Bytes left under a cgroup memory limit; `undefined` = none. */
  cgroupMemory: number | undefined;
  #idle = 0;
  #total = 0;
  #usageSeconds = 0;

  /**
   * Starts with the given figures and all CPU counters at zero.
   *
   * @param options the initial figures
   */
  constructor(options: FakeProbesOptions = {}) {
    this.cpus = options.cpus ?? 4;
    this.procStat = options.procStat ?? true;
    this.load = options.load;
    this.quotaCpus = options.quotaCpus;
    this.quotaUsage = options.quotaUsage ?? true;
    this.memory = options.memory;
    this.cgroupMemory = options.cgroupMemory;
  }

  /**
   * Accounts `ms` of wall time during which `busyCpus` CPUs were busy: the
   * `/proc/stat` counters and the cgroup usage move, the clock does not.
   *
   * @param ms milliseconds of wall time
   * @param busyCpus CPUs busy on the host meanwhile (0 to {@linkcode FakeProbes.cpus})
   * @param ownCpus of those, CPUs used by our own cgroup @default {busyCpus}
   */
  spend(ms: number, busyCpus: number, ownCpus: number = busyCpus): void {
    const busy = Math.min(this.cpus, Math.max(0, busyCpus));
    this.#total += ms * this.cpus;
    this.#idle += ms * (this.cpus - busy);
    this.#usageSeconds += (ms / 1000) * Math.max(0, ownCpus);
  }

  /**
   * Moves `clock` forward by `ms` in 10 ms steps, with `busyCpus` busy
   * throughout, so every timer on the clock sees counters up to its time.
   *
   * @param clock the clock the gate under test uses
   * @param ms milliseconds to run
   * @param busyCpus CPUs busy on the host meanwhile
   * @param ownCpus of those, CPUs used by our own cgroup @default {busyCpus}
   */
  run(
    clock: { advance(ms: number): void },
    ms: number,
    busyCpus: number,
    ownCpus: number = busyCpus,
  ): void {
    for (let left = ms; left > 0; left -= 10) {
      const dt = Math.min(10, left);
      this.spend(dt, busyCpus, ownCpus);
      clock.advance(dt);
    }
  }

  /**
   * The counters moved by {@linkcode FakeProbes.spend}.
   *
   * @returns the fake `/proc/stat` counters, or `undefined` when absent
   */
  cpuTimes(): CpuTimes | undefined {
    return this.procStat
      ? { idle: this.#idle, total: this.#total, cpus: this.cpus }
      : undefined;
  }

  /**
   * The load average as set.
   *
   * @returns {@linkcode FakeProbes.load}
   */
  loadAverage(): number | undefined {
    return this.load;
  }

  /**
   * The CPU count as set.
   *
   * @returns {@linkcode FakeProbes.cpus}
   */
  onlineCpus(): number {
    return this.cpus;
  }

  /**
   * The quota as set, with the usage {@linkcode FakeProbes.spend} accounted.
   *
   * @returns the quota, with usage when {@linkcode FakeProbes.quotaUsage}
   */
  cpuQuota(): CpuQuota | undefined {
    if (this.quotaCpus === undefined) return undefined;
    return this.quotaUsage
      ? { cpus: this.quotaCpus, usageSeconds: this.#usageSeconds }
      : { cpus: this.quotaCpus };
  }

  /**
   * System memory as set.
   *
   * @returns {@linkcode FakeProbes.memory}
   */
  memoryAvailable(): number | undefined {
    return this.memory;
  }

  /**
   * cgroup headroom as set.
   *
   * @returns {@linkcode FakeProbes.cgroupMemory}
   */
  cgroupMemoryAvailable(): number | undefined {
    return this.cgroupMemory;
  }
}
