/**
 * Readers of the host figures the gates decide on: CPU times from
 * `/proc/stat`, CPU and memory limits from cgroups (v2 and v1), the load
 * average, available memory and the number of online CPUs.
 *
 * Every reader is synchronous (procfs and cgroupfs reads are tiny and never
 * block on disk) and never throws: a file that is missing, unreadable or
 * holds something unexpected reads as "unknown" (`undefined`), and the cgroup
 * spellings of "no limit" (`max`, `-1`, 2^63-ish byte counts) read as no
 * limit. Missing cgroup files are the normal case outside containers
 * (issue 3).
 *
 * @module
 */

/** Cumulative CPU time of the whole host, from the `cpu ` line of `/proc/stat`. */
export interface CpuTimes {
  /** Time spent idle or waiting for I/O (any unit; only ratios matter). */
  idle: number;
  /** All time accounted, in the same unit as {@linkcode CpuTimes.idle}. */
  total: number;
  /** How many `cpuN` lines there were: the CPUs the counters cover (0 when unknown). */
  cpus: number;
}

/** A CPU limit from cgroups. */
export interface CpuQuota {
  /** The limit in CPUs (quota / period), e.g. 1.5. */
  cpus: number;
  /**
   * Cumulative CPU seconds used by the limited cgroup, when readable; lets a
   * gate tell its own usage from that of the rest of the host.
   */
  usageSeconds?: number;
}

/**
 * The figures the gates read. Every method is cheap, synchronous and total:
 * `undefined` means "unknown" or "no limit", never an error.
 */
export interface Probes {
  /** Host CPU counters, or `undefined` where `/proc/stat` is absent. */
  cpuTimes(): CpuTimes | undefined;
  /** The one-minute load average, or `undefined` when unavailable. */
  loadAverage(): number | undefined;
  /** Online CPUs (at least 1). */
  onlineCpus(): number;
  /** The tightest cgroup CPU limit, or `undefined` when there is none. */
  cpuQuota(): CpuQuota | undefined;
  /** Memory the system could give a new process, in bytes, or `undefined`. */
  memoryAvailable(): number | undefined;
  /** Bytes left under the tightest cgroup memory limit, or `undefined` when there is none. */
  cgroupMemoryAvailable(): number | undefined;
}

/** Reads a whole text file; may throw (e.g. `Deno.errors.NotFound`). */
export type ReadTextFile = (path: string) => string;

/** Where {@linkcode systemProbes} gets its raw figures; all injectable for tests. */
export interface SystemProbesOptions {
  /**
   * Reads `/proc` and cgroup files. Errors are swallowed and mean "unknown".
   *
   * @default {Deno.readTextFileSync}
   */
  readTextFile?: ReadTextFile;
  /**
   * The load averages (1, 5, 15 minutes).
   *
   * @default {Deno.loadavg}
   */
  loadavg?: () => number[];
  /**
   * Memory figures of the system; only `available` is used.
   *
   * @default {Deno.systemMemoryInfo}
   */
  systemMemoryInfo?: () => { available: number };
  /**
   * The number of CPUs this process may run on.
   *
   * @default {() => navigator.hardwareConcurrency}
   */
  hardwareConcurrency?: () => number;
  /**
   * Where procfs is mounted.
   *
   * @default {"/proc"}
   */
  procRoot?: string;
  /**
   * Where the cgroup file systems are mounted (v2 at the root or at
   * `unified/`, v1 controllers at `cpu/`, `cpuacct/` and `memory/`).
   *
   * @default {"/sys/fs/cgroup"}
   */
  cgroupRoot?: string;
}

/** Byte limits at or above this are cgroup v1's way of writing "unlimited". */
const UNLIMITED_BYTES = 2 ** 60;

/**
 * Probes of the machine this process runs on.
 *
 * The cgroup of this process is found through `/proc/self/cgroup` and every
 * level from it up to the mount root is read, so a limit set on a parent (a
 * Kubernetes pod around its container) counts too; without that file only
 * the mount roots are read, which is what a container with its own cgroup
 * namespace sees anyway.
 *
 * @param options injected readers; the defaults read the real system
 * @returns probes that never throw
 *
 * @example Read the machine's figures
 * ```ts
 * import { systemProbes } from "./probes.ts";
 * const probes = systemProbes();
 * if (probes.onlineCpus() < 1) throw new Error("no CPU?");
 * const quota = probes.cpuQuota(); // undefined when unlimited
 * if (quota !== undefined && !(quota.cpus > 0)) throw new Error("bad quota");
 * ```
 *
 * @example Simulate a container with a 1.5 CPU limit
 * ```ts
 * import { systemProbes } from "./probes.ts";
 * const files: Record<string, string> = {
 *   "/proc/self/cgroup": "0::/\n",
 *   "/sys/fs/cgroup/cpu.max": "150000 100000\n",
 * };
 * const probes = systemProbes({
 *   readTextFile: (path) => {
 *     if (path in files) return files[path];
 *     throw new Deno.errors.NotFound(path);
 *   },
 *   hardwareConcurrency: () => 4,
 * });
 * if (probes.cpuQuota()?.cpus !== 1.5) throw new Error("quota not read");
 * if (probes.cpuTimes() !== undefined) throw new Error("no /proc/stat here");
 * ```
 */
export function systemProbes(options: SystemProbesOptions = {}): Probes {
  const readTextFile = options.readTextFile ?? Deno.readTextFileSync;
  const loadavg = options.loadavg ?? Deno.loadavg;
  const memoryInfo = options.systemMemoryInfo ?? Deno.systemMemoryInfo;
  const hardwareConcurrency = options.hardwareConcurrency ??
    (() => navigator.hardwareConcurrency);
  const proc = options.procRoot ?? "/proc";
  const cgroup = options.cgroupRoot ?? "/sys/fs/cgroup";

  const read = (path: string): string | undefined => {
    try {
      return readTextFile(path);
    } catch {
      // NotFound, PermissionDenied, NotCapable, IsADirectory: all "unknown".
      return undefined;
    }
  };
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch {
      return undefined;
    }
  };

  /** Directories of the cgroup levels, innermost first, for one hierarchy. */
  const levels = (mount: string, path: string | undefined): string[] => {
    const parts = (path ?? "/").split("/").filter((p) => p !== "");
    const dirs: string[] = [];
    for (let n = parts.length; n >= 0; n--) {
      dirs.push([mount, ...parts.slice(0, n)].join("/"));
    }
    return dirs;
  };

  const ownCgroups = () => parseProcSelfCgroup(read(`${proc}/self/cgroup`));
  const v2Dirs = (path: string | undefined) => [
    ...levels(cgroup, path),
    ...levels(`${cgroup}/unified`, path),
  ];

  return {
    cpuTimes: () => parseProcStat(read(`${proc}/stat`)),

    loadAverage: () => nonNegative(attempt(() => loadavg()[0])),

    onlineCpus: () => {
      const n = attempt(hardwareConcurrency);
      return n !== undefined && Number.isFinite(n) && n >= 1
        ? Math.floor(n)
        : 1;
    },

    cpuQuota: () => {
      const own = ownCgroups();
      let best: CpuQuota | undefined;
      const consider = (
        cpus: number | undefined,
        usage: () => number | undefined,
      ) => {
        if (cpus === undefined || (best && best.cpus <= cpus)) return;
        best = { cpus };
        const seconds = usage();
        if (seconds !== undefined) best.usageSeconds = seconds;
      };
      for (const dir of v2Dirs(own.v2)) {
        consider(parseCpuMax(read(`${dir}/cpu.max`)), () => {
          const usec = statField(read(`${dir}/cpu.stat`), "usage_usec");
          return usec === undefined ? undefined : usec / 1e6;
        });
      }
      const cpuPath = own.v1.get("cpu");
      for (const dir of levels(`${cgroup}/cpu`, cpuPath)) {
        const quota = parseInteger(read(`${dir}/cpu.cfs_quota_us`));
        const period = parseInteger(read(`${dir}/cpu.cfs_period_us`));
        // v1 writes "no quota" as -1.
        const cpus =
          quota !== undefined && period !== undefined && quota > 0 && period > 0
            ? quota / period
            : undefined;
        consider(cpus, () => {
          // cpu and cpuacct are nearly always co-mounted; try both spellings.
          const relative = dir.slice(`${cgroup}/cpu`.length);
          const ns = parseInteger(read(`${dir}/cpuacct.usage`)) ??
            parseInteger(read(`${cgroup}/cpuacct${relative}/cpuacct.usage`));
          return ns === undefined ? undefined : ns / 1e9;
        });
      }
      return best;
    },

    memoryAvailable: () => nonNegative(attempt(() => memoryInfo().available)),

    cgroupMemoryAvailable: () => {
      const own = ownCgroups();
      let best: number | undefined;
      const consider = (
        limit: number | undefined,
        usage: number | undefined,
        stat: string | undefined,
        inactiveKey: string,
      ) => {
        // A limit without a usage figure cannot be turned into headroom.
        if (limit === undefined || usage === undefined) return;
        // Inactive page cache is reclaimed before the OOM killer runs, so it
        // is not "used" for our purpose (the kubelet's working set does the same).
        const inactive = statField(stat, inactiveKey) ?? 0;
        const headroom = Math.max(0, limit - Math.max(0, usage - inactive));
        if (best === undefined || headroom < best) best = headroom;
      };
      for (const dir of v2Dirs(own.v2)) {
        const limit = parseByteLimit(read(`${dir}/memory.max`));
        if (limit === undefined) continue;
        consider(
          limit,
          parseInteger(read(`${dir}/memory.current`)),
          read(`${dir}/memory.stat`),
          "inactive_file",
        );
      }
      for (const dir of levels(`${cgroup}/memory`, own.v1.get("memory"))) {
        const limit = parseByteLimit(read(`${dir}/memory.limit_in_bytes`));
        if (limit === undefined) continue;
        consider(
          limit,
          parseInteger(read(`${dir}/memory.usage_in_bytes`)),
          read(`${dir}/memory.stat`),
          "total_inactive_file",
        );
      }
      return best;
    },
  };
}

function nonNegative(n: number | undefined): number | undefined {
  return n !== undefined && Number.isFinite(n) && n >= 0 ? n : undefined;
}

function parseInteger(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : undefined;
}

/** A cgroup byte limit; `max`, negative and near-2^63 values mean "none". */
function parseByteLimit(text: string | undefined): number | undefined {
  const n = parseInteger(text);
  return n !== undefined && n >= 0 && n < UNLIMITED_BYTES ? n : undefined;
}

/** cgroup v2 `cpu.max`: `"$MAX $PERIOD"`, where `$MAX` may be `max`. */
function parseCpuMax(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const [quota, period = "100000"] = text.trim().split(/\s+/);
  const q = parseInteger(quota);
  const p = parseInteger(period);
  return q !== undefined && p !== undefined && q > 0 && p > 0
    ? q / p
    : undefined;
}

/** A `key value` line of a flat-keyed cgroup file such as `cpu.stat` or `memory.stat`. */
function statField(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined;
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key) return parseInteger(v);
  }
  return undefined;
}

/**
 * The aggregate `cpu ` line of `/proc/stat` (proc(5)): user nice system idle
 * iowait irq softirq steal guest guest_nice. Guest time is already inside
 * user and nice, so only the first eight fields are summed; steal counts as
 * busy, since that time was not ours to use.
 */
function parseProcStat(text: string | undefined): CpuTimes | undefined {
  if (text === undefined) return undefined;
  let times: CpuTimes | undefined;
  let cpus = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("cpu ")) {
      const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
      if (
        fields.length < 4 || fields.some((f) => !Number.isFinite(f) || f < 0)
      ) {
        return undefined;
      }
      const idle = fields[3] + (fields[4] ?? 0);
      times = { idle, total: fields.reduce((a, b) => a + b, 0), cpus: 0 };
    } else if (/^cpu\d+\s/.test(line)) {
      cpus++;
    }
  }
  if (times) times.cpus = cpus;
  return times;
}

/** `/proc/self/cgroup`: `id:controllers:path` per line; v2 is `0::path`. */
function parseProcSelfCgroup(
  text: string | undefined,
): { v2?: string; v1: Map<string, string> } {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of (text ?? "").split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === "0" && m[2] === "") v2 = m[3];
    else for (const c of m[2].split(",")) v1.set(c, m[3]);
  }
  return { v2, v1 };
}
