/**
 * A gate that admits jobs while enough CPUs are idle: the built-in behind
 * `--gate-cpu` and the one the original POTHEAD shipped as `pothead.gating`.
 *
 * @module
 */

import { type Clock, systemClock } from "../clock.ts";
import { admissionGate, type AdmittedJob } from "./admission.ts";
import { type CpuTimes, type Probes, systemProbes } from "./probes.ts";
import type { Gate } from "./types.ts";

/** Options of {@linkcode waitForIdleCpu}. */
export interface IdleCpuOptions {
  /**
   * Where CPU figures come from.
   *
   * @default {systemProbes()}
   */
  probes?: Probes;
  /**
   * The clock for sampling, ramp and reservation timing.
   *
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Milliseconds between CPU samples while a caller waits.
   *
   * @default {250}
   */
  sampleInterval?: number;
  /**
   * Weight of the newest sample in the moving average of idle CPUs (1 = no
   * smoothing). At 0.5 and 250 ms a step change is 90 % visible within about
   * 1 s, which {@linkcode IdleCpuOptions.reservationTime} covers.
   *
   * @default {0.5}
   */
  smoothing?: number;
  /**
   * Milliseconds a job's CPUs stay reserved after its request arrives, for
   * the job to show up in the (smoothed) CPU figures.
   *
   * @default {1000}
   */
  reservationTime?: number;
  /**
   * Keep each job's reservation until the app calls
   * `ticket.resetReservation(n)` (or the job is done), instead of for
   * {@linkcode IdleCpuOptions.reservationTime}: for jobs that spend a while
   * fetching input before they load the CPU.
   *
   * @default {false}
   */
  keepReservation?: boolean;
  /**
   * At most this many jobs at once.
   *
   * @default {Math.max(1, Math.floor(2 * cpus / required))}
   */
  maxConcurrent?: number;
  /**
   * Milliseconds between one admission and the next.
   *
   * @default {500}
   */
  rampDelay?: number;
}

/**
 * Idle CPUs available to this process, smoothed over samples.
 *
 * Capacity is the online CPUs, capped by a cgroup quota. Busy CPUs come from
 * `/proc/stat` deltas, or, under a quota whose cgroup usage is readable, from
 * that usage (so other tenants of a big host do not count against us); idle
 * is capacity minus busy, but never more than the host has idle. Without
 * `/proc/stat` the one-minute load average stands in for busy CPUs.
 */
class IdleCpuEstimate {
  /** Smoothed idle CPUs; `undefined` until the first measurement. */
  value: number | undefined;
  /** Online CPUs capped by the quota, as of the last sample. */
  capacity: number;
  /** What the last sample measured with; "none" when nothing was readable. */
  source: "stat" | "loadavg" | "none" = "none";
  #probes: Probes;
  #interval: number;
  #alpha: number;
  #prev: { at: number; times?: CpuTimes; usage?: number } | undefined;

  constructor(probes: Probes, interval: number, alpha: number) {
    this.#probes = probes;
    this.#interval = interval;
    this.#alpha = alpha;
    this.capacity = probes.onlineCpus();
  }

  sample(now: number): void {
    const probes = this.#probes;
    const online = probes.onlineCpus();
    const quota = probes.cpuQuota();
    const capacity = quota ? Math.min(online, quota.cpus) : online;
    this.capacity = capacity;
    const times = probes.cpuTimes();
    const prev = this.#prev;
    const gap = prev ? now - prev.at : Infinity;
    let idle: number;
    if (times) {
      if (prev?.times === undefined) {
        this.#restart("stat", now, times, quota?.usageSeconds);
        return;
      }
      // Too short a window is mostly rounding (USER_HZ ticks); let it grow.
      if (gap < this.#interval / 2) return;
      const total = times.total - prev.times.total;
      if (!(total > 0)) return;
      const idleShare = clamp((times.idle - prev.times.idle) / total, 0, 1);
      const hostCpus = times.cpus > 0 ? times.cpus : online;
      let busy = (1 - idleShare) * hostCpus;
      if (quota?.usageSeconds !== undefined && prev.usage !== undefined) {
        busy = Math.max(0, (quota.usageSeconds - prev.usage) / (gap / 1000));
      }
      idle = Math.min(capacity - busy, idleShare * hostCpus);
      this.#prev = { at: now, times, usage: quota?.usageSeconds };
    } else {
      const load = probes.loadAverage();
      if (load === undefined) {
        this.#restart("none", now);
        return;
      }
      idle = capacity - load;
      this.#prev = { at: now };
    }
    const x = clamp(idle, 0, capacity);
    const source = times ? "stat" : "loadavg";
    // A long pause in sampling (nobody waited) makes old figures irrelevant.
    if (
      this.value === undefined || this.source !== source ||
      gap > 4 * this.#interval
    ) {
      this.value = x;
    } else {
      this.value += this.#alpha * (x - this.value);
    }
    this.source = source;
  }

  #restart(
    source: "stat" | "none",
    now: number,
    times?: CpuTimes,
    usage?: number,
  ) {
    this.source = source;
    this.value = undefined;
    this.#prev = { at: now, times, usage };
  }
}

/**
 * A gate that admits one more job while `required` CPUs are idle.
 *
 * - One job is always admitted when none runs.
 * - Each admitted job reserves `required` CPUs until it shows in the CPU
 *   figures (`reservationTime` after its request arrives, or until
 *   `ticket.resetReservation(n)` with `keepReservation`), so a burst of
 *   callers cannot all see the same idle CPUs.
 * - Admissions are `rampDelay` apart and at most `maxConcurrent` run.
 * - Where no figure at all is readable, each running job is assumed to use
 *   `required` CPUs of the capacity.
 *
 * @param required CPUs a job needs, e.g. 1 or 0.5
 * @param options probes, clock and tuning
 * @returns the gate
 * @throws {RangeError} when `required` or an option is out of range
 *
 * @example Gate a worker's pulls on one idle CPU per job
 * ```ts
 * import { waitForIdleCpu } from "./idle_cpu.ts";
 * const gate = waitForIdleCpu(1);
 * const ticket = await gate(new AbortController().signal); // none runs: admitted
 * ticket.done?.();
 * ```
 *
 * @example Keep the reservation until the job really starts
 * ```ts
 * import { waitForIdleCpu } from "./idle_cpu.ts";
 * import { FakeProbes } from "./fake_probes.ts";
 * import { ManualClock } from "../clock.ts";
 * const clock = new ManualClock();
 * const probes = new FakeProbes({ cpus: 4 });
 * const gate = waitForIdleCpu(1, { clock, probes, keepReservation: true });
 * const ticket = await gate(new AbortController().signal);
 * // ... once the input is downloaded and the CPU-heavy part begins:
 * ticket.resetReservation?.(0);
 * ticket.done?.();
 * ```
 */
export function waitForIdleCpu(
  required: number,
  options: IdleCpuOptions = {},
): Gate {
  if (!(required > 0 && Number.isFinite(required))) {
    throw new RangeError(
      `Cannot gate on idle CPU: required must be a positive number, current value is ${required}`,
    );
  }
  const clock = options.clock ?? systemClock;
  const probes = options.probes ?? systemProbes();
  const sampleInterval = options.sampleInterval ?? 250;
  const smoothing = options.smoothing ?? 0.5;
  const reservationTime = options.reservationTime ?? 1000;
  const keepReservation = options.keepReservation ?? false;
  if (!(sampleInterval > 0)) {
    throw new RangeError(
      `Cannot gate on idle CPU: sampleInterval must be > 0, current value is ${sampleInterval}`,
    );
  }
  if (!(smoothing > 0 && smoothing <= 1)) {
    throw new RangeError(
      `Cannot gate on idle CPU: smoothing must be in (0, 1], current value is ${smoothing}`,
    );
  }
  if (!(reservationTime >= 0)) {
    throw new RangeError(
      `Cannot gate on idle CPU: reservationTime must be >= 0, current value is ${reservationTime}`,
    );
  }
  const fixedMax = options.maxConcurrent;
  if (fixedMax !== undefined && !(fixedMax >= 1)) {
    throw new RangeError(
      `Cannot gate on idle CPU: maxConcurrent must be >= 1, current value is ${fixedMax}`,
    );
  }

  const estimate = new IdleCpuEstimate(probes, sampleInterval, smoothing);
  // Baseline now, so the first caller that has to wait gets a figure after
  // one interval of history rather than none.
  estimate.sample(clock.now());

  const holds = (job: AdmittedJob, now: number) =>
    keepReservation || job.receivedAt === undefined ||
    now < job.receivedAt + reservationTime;
  // Tolerate float noise in sums such as 0.1 + 0.2.
  const need = required - 1e-9;

  return admissionGate({
    clock,
    sampleInterval,
    rampDelay: options.rampDelay ?? 500,
    reservation: required,
    resettable: true,
    maxConcurrent: fixedMax !== undefined
      ? fixedMax
      : () => Math.max(1, Math.floor(2 * estimate.capacity / required)),
    sample: () => estimate.sample(clock.now()),
    hasRoom: (jobs, now) => {
      if (estimate.source === "none") {
        return estimate.capacity - jobs.size * required >= need;
      }
      if (estimate.value === undefined) return false;
      let reserved = 0;
      for (const job of jobs) if (holds(job, now)) reserved += job.reserved;
      return estimate.value - reserved >= need;
    },
  });
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
