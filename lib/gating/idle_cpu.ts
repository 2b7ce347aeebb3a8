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
   * The clock for sampling, ramp and job timing.
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
   * Milliseconds of CPU figures averaged into one measurement (the
   * smoothing): the samples of about the last `window` ms. What the
   * window cannot show yet (jobs that started or ended within it) is
   * accounted for from the jobs' own start and end times, so a longer window
   * only steadies the figures; it does not delay admissions.
   *
   * @default {1000}
   */
  window?: number;
  /**
   * Share of one more job's CPUs that may be missing when it is admitted:
   * a job is admitted while at least `(1 - tolerance)` of the CPUs it is
   * expected to use are idle. It keeps measurement noise and the host's
   * background load from leaving a CPU unused; 0 asks for every CPU idle.
   *
   * @default {0.5}
   */
  tolerance?: number;
  /**
   * Keep each job's reservation whole until the app calls
   * `ticket.resetReservation(n)` (or the job is done), for jobs that spend a
   * while fetching input before they load the CPU; the job counts as started
   * from that call, and `n` is the CPUs it is then assumed to use (0: none
   * beyond what the figures show).
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
   * Milliseconds between one admission that raises the number of jobs and
   * the next. A job that replaces one done within the last `rampDelay` is
   * not held by it (it still needs the idle CPUs).
   *
   * @default {500}
   */
  rampDelay?: number;
}

/** One sample of the counters. */
interface Sample {
  at: number;
  times: CpuTimes;
  usage?: number;
}

/** Busy and idle CPUs averaged over `[from, to]`. */
interface CpuMeasurement {
  /** Start of the window, on the gate's clock. */
  from: number;
  /** End of the window (the newest sample). */
  to: number;
  /** CPUs busy on average (ours or, under a quota with usage, our cgroup's). */
  busy: number;
  /** CPUs idle and available to us on average. */
  idle: number;
}

/**
 * CPU figures averaged over a sliding window of samples.
 *
 * Capacity is the online CPUs, capped by a cgroup quota. Busy CPUs come from
 * `/proc/stat` deltas, or, under a quota whose cgroup usage is readable, from
 * that usage (so other tenants of a big host do not count against us); idle
 * is capacity minus busy, but never more than the host has idle. Without
 * `/proc/stat` the one-minute load average stands in for busy CPUs.
 */
class CpuFigures {
  /** Online CPUs capped by the quota, as of the last sample. */
  capacity: number;
  /** What the last sample read; "none" when nothing was readable. */
  source: "stat" | "loadavg" | "none" = "none";
  /** The load average, as of the last sample (source "loadavg"). */
  load = 0;
  #probes: Probes;
  #interval: number;
  #window: number;
  /** Samples, oldest first: the newest one at or before the window's start, and all after. */
  #samples: Sample[] = [];

  constructor(probes: Probes, interval: number, window: number) {
    this.#probes = probes;
    this.#interval = interval;
    this.#window = window;
    this.capacity = probes.onlineCpus();
  }

  sample(now: number): void {
    const probes = this.#probes;
    const online = probes.onlineCpus();
    const quota = probes.cpuQuota();
    this.capacity = quota ? Math.min(online, quota.cpus) : online;
    const times = probes.cpuTimes();
    if (times === undefined) {
      this.#samples = [];
      const load = probes.loadAverage();
      this.source = load === undefined ? "none" : "loadavg";
      this.load = load ?? 0;
      return;
    }
    if (this.source !== "stat") this.#samples = [];
    this.source = "stat";
    const samples = this.#samples;
    const last = samples.at(-1);
    const usage = quota?.usageSeconds;
    if (last !== undefined) {
      // Too short a gap is mostly rounding (USER_HZ ticks); let it grow.
      if (now - last.at < this.#interval / 2) return;
      // Counters that went backwards (or a quota that came or went): restart.
      if (
        times.total < last.times.total || (usage === undefined) !==
          (last.usage === undefined)
      ) {
        samples.length = 0;
      }
    }
    samples.push({ at: now, times, usage });
    // Keep the newest sample at or before the window's start, and all after.
    while (samples.length > 2 && samples[1].at <= now - this.#window) {
      samples.shift();
    }
  }

  /** The figures over the window, or `undefined` before two samples. */
  measure(): CpuMeasurement | undefined {
    const samples = this.#samples;
    if (samples.length < 2) return undefined;
    const a = samples[0], b = samples[samples.length - 1];
    const total = b.times.total - a.times.total;
    const span = b.at - a.at;
    if (!(total > 0 && span > 0)) return undefined;
    const idleShare = clamp((b.times.idle - a.times.idle) / total, 0, 1);
    const hostCpus = b.times.cpus > 0 ? b.times.cpus : this.capacity;
    let busy = (1 - idleShare) * hostCpus;
    if (a.usage !== undefined && b.usage !== undefined) {
      busy = Math.max(0, (b.usage - a.usage) / (span / 1000));
    }
    const idle = clamp(
      Math.min(this.capacity - busy, idleShare * hostCpus),
      0,
      this.capacity,
    );
    return { from: a.at, to: b.at, busy: Math.min(busy, this.capacity), idle };
  }
}

/**
 * A gate that admits one more job while `required` CPUs are idle.
 *
 * Each job is assumed to use up to `required` CPUs from the moment its
 * request arrives until it is done. The idle CPUs are measured over a
 * window of recent samples and brought up to date with what the window
 * cannot show yet, so nothing is counted twice:
 *
 * - a job pulled but not yet running reserves `required` CPUs (with
 *   `keepReservation`, until `ticket.resetReservation(n)`), so a burst of
 *   callers cannot all see the same idle CPUs;
 * - the CPU use the window saw from running and recently ended jobs is
 *   replaced by what the running jobs use now: the jobs' share of the
 *   window times the rate they were seen to use (`required` each at most,
 *   and at most the busy CPUs measured). A job that ends frees its CPUs at
 *   once, and one that just started counts as using what jobs were seen to
 *   use, whether or not the window shows it yet.
 *
 * One more job is admitted while the idle CPUs so estimated cover
 * `(1 - tolerance)` of what it is expected to use. CPU-bound jobs of
 * `required` CPUs thus settle at about `cpus / required` at once, and jobs
 * that leave the CPUs idle while they wait (on I/O) at more, up to
 * `maxConcurrent`.
 *
 * - One job is always admitted when none runs.
 * - Admissions that raise the number of jobs are `rampDelay` apart; at most
 *   `maxConcurrent` run.
 * - Where `/proc/stat` is absent, busy CPUs are the larger of the load
 *   average and `required` per job; where nothing is readable, each job is
 *   assumed to use `required` CPUs of the capacity.
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
 * // ... once the input is downloaded and the CPU-heavy part begins (it now
 * // counts as a running job of 1 CPU; 0 would leave it to the CPU figures):
 * ticket.resetReservation?.(1);
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
  const window = options.window ?? 1000;
  const tolerance = options.tolerance ?? 0.5;
  const keepReservation = options.keepReservation ?? false;
  if (!(sampleInterval > 0)) {
    throw new RangeError(
      `Cannot gate on idle CPU: sampleInterval must be > 0, current value is ${sampleInterval}`,
    );
  }
  if (!(window >= sampleInterval && Number.isFinite(window))) {
    throw new RangeError(
      `Cannot gate on idle CPU: window must be >= sampleInterval (${sampleInterval}), current value is ${window}`,
    );
  }
  if (!(tolerance >= 0 && tolerance < 1)) {
    throw new RangeError(
      `Cannot gate on idle CPU: tolerance must be in [0, 1), current value is ${tolerance}`,
    );
  }
  const fixedMax = options.maxConcurrent;
  if (fixedMax !== undefined && !(fixedMax >= 1)) {
    throw new RangeError(
      `Cannot gate on idle CPU: maxConcurrent must be >= 1, current value is ${fixedMax}`,
    );
  }

  const figures = new CpuFigures(probes, sampleInterval, window);
  // Baseline now, so the first caller that has to wait gets a figure after
  // one interval of history rather than none.
  figures.sample(clock.now());

  /** When a job's CPU use starts to show, or `undefined` while it is pending. */
  const startOf = (job: AdmittedJob) =>
    keepReservation ? job.resetAt : job.receivedAt;
  /** Jobs done recently, still inside the window; oldest end first. */
  const ended: AdmittedJob[] = [];

  return admissionGate({
    clock,
    sampleInterval,
    rampDelay: options.rampDelay ?? 500,
    refillWithoutRamp: true,
    reservation: required,
    resettable: true,
    onDone: (job) => {
      if (startOf(job) === undefined) return; // it never used the CPU
      ended.push(job);
      // Long gone from any window (estimateIdle trims more precisely).
      const horizon = job.endedAt! - 4 * (window + sampleInterval);
      while (ended[0].endedAt! < horizon) ended.shift();
    },
    maxConcurrent: fixedMax !== undefined
      ? fixedMax
      : () => Math.max(1, Math.floor(2 * figures.capacity / required)),
    sample: () => figures.sample(clock.now()),
    hasRoom: (jobs, now) => {
      const idle = estimateIdle(figures, jobs, ended, startOf, now, {
        stale: 2 * sampleInterval,
      });
      if (idle === undefined) return false;
      // Tolerate float noise in sums such as 0.1 + 0.2.
      return idle.cpus >= (1 - tolerance) * idle.rate * required - 1e-9;
    },
  });
}

/**
 * The CPUs idle now, estimated from the windowed figures and the jobs, and
 * the share of their `reserved` CPUs that jobs were seen to use (1 when
 * nothing was seen); `undefined` while no usable figure exists.
 */
function estimateIdle(
  figures: CpuFigures,
  jobs: ReadonlySet<AdmittedJob>,
  ended: AdmittedJob[],
  startOf: (job: AdmittedJob) => number | undefined,
  now: number,
  limits: { stale: number },
): { cpus: number; rate: number } | undefined {
  let pending = 0;
  let running = 0;
  for (const job of jobs) {
    if (startOf(job) === undefined) pending += job.reserved;
    else running += job.reserved;
  }
  if (figures.source !== "stat") {
    // No window to compare with: the jobs use what they reserved, and the
    // load average (which lags by a minute) is a floor for the busy CPUs.
    const busy = Math.max(figures.load, pending + running);
    return { cpus: figures.capacity - busy, rate: 1 };
  }
  const m = figures.measure();
  if (m === undefined || now - m.to > limits.stale) return undefined;
  const span = m.to - m.from;
  while (ended.length > 0 && ended[0].endedAt! <= m.from) ended.shift();
  // What the window would show if every job used all it reserved.
  let seen = 0;
  const count = (job: AdmittedJob) => {
    const start = startOf(job);
    if (start === undefined) return;
    const end = Math.min(job.endedAt ?? Infinity, m.to);
    const overlap = end - Math.max(start, m.from);
    if (overlap > 0) seen += job.reserved * overlap / span;
  };
  for (const job of jobs) count(job);
  for (const job of ended) count(job);
  // The jobs cannot have used more than the busy CPUs measured.
  const rate = seen > 1e-6 ? Math.min(1, m.busy / seen) : 1;
  // Swap what the window saw of our jobs for what they use now.
  const cpus = m.idle + rate * (seen - running) - pending;
  return { cpus, rate };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
