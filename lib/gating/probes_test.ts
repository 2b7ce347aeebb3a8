import assert from "node:assert/strict";
import { type ReadTextFile, systemProbes } from "./probes.ts";

/** A file system of the given files; anything else is ENOENT. */
function files(map: Record<string, string>): ReadTextFile {
  return (path) => {
    if (Object.hasOwn(map, path)) return map[path];
    throw new Deno.errors.NotFound(`ENOENT: ${path}`);
  };
}

const enoent: ReadTextFile = (path) => {
  throw new Deno.errors.NotFound(`ENOENT: ${path}`);
};

const PROC_STAT = [
  "cpu  100 5 50 800 20 3 2 10 7 1",
  "cpu0 50 2 25 400 10 1 1 5 3 0",
  "cpu1 50 3 25 400 10 2 1 5 4 1",
  "intr 12345",
  "ctxt 6789",
  "",
].join("\n");

Deno.test("cpuTimes sums /proc/stat without double-counting guest time", () => {
  const probes = systemProbes({
    readTextFile: files({ "/proc/stat": PROC_STAT }),
  });
  // idle = idle + iowait; total = user..steal (guest is inside user/nice).
  assert.deepEqual(probes.cpuTimes(), { idle: 820, total: 990, cpus: 2 });
});

Deno.test("cpuTimes reads garbage as unknown", () => {
  for (const text of ["", "cpu  a b c d", "cpu  1 2", "intr 5\n"]) {
    const probes = systemProbes({
      readTextFile: files({ "/proc/stat": text }),
    });
    assert.equal(probes.cpuTimes(), undefined, JSON.stringify(text));
  }
});

Deno.test("cgroup v2 cpu.max and cpu.stat give quota and usage", () => {
  const probes = systemProbes({
    readTextFile: files({
      "/proc/self/cgroup": "0::/\n",
      "/sys/fs/cgroup/cpu.max": "150000 100000\n",
      "/sys/fs/cgroup/cpu.stat": "usage_usec 2500000\nuser_usec 2000000\n",
    }),
  });
  assert.deepEqual(probes.cpuQuota(), { cpus: 1.5, usageSeconds: 2.5 });
});

Deno.test("cgroup v2 'max' is no quota", () => {
  const probes = systemProbes({
    readTextFile: files({
      "/proc/self/cgroup": "0::/\n",
      "/sys/fs/cgroup/cpu.max": "max 100000\n",
    }),
  });
  assert.equal(probes.cpuQuota(), undefined);
});

Deno.test("the tightest limit on the way up the cgroup tree wins", () => {
  const probes = systemProbes({
    readTextFile: files({
      "/proc/self/cgroup": "0::/kubepods/pod1/ctr\n",
      "/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max": "max 100000",
      "/sys/fs/cgroup/kubepods/pod1/cpu.max": "200000 100000",
      "/sys/fs/cgroup/kubepods/pod1/cpu.stat": "usage_usec 1000000",
      "/sys/fs/cgroup/kubepods/cpu.max": "800000 100000",
      "/sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "1000000",
      "/sys/fs/cgroup/kubepods/pod1/ctr/memory.current": "400000",
      "/sys/fs/cgroup/kubepods/pod1/memory.max": "2000000",
      "/sys/fs/cgroup/kubepods/pod1/memory.current": "1800000",
    }),
  });
  assert.deepEqual(probes.cpuQuota(), { cpus: 2, usageSeconds: 1 });
  // The pod has 200000 left, less than the container's own 600000.
  assert.equal(probes.cgroupMemoryAvailable(), 200000);
});

Deno.test("cgroup v1 quota/period with cpuacct usage; -1 is no quota", () => {
  const limited = systemProbes({
    readTextFile: files({
      "/proc/self/cgroup": "3:cpu,cpuacct:/\n",
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "150000\n",
      "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
      "/sys/fs/cgroup/cpuacct/cpuacct.usage": "3000000000\n",
    }),
  });
  assert.deepEqual(limited.cpuQuota(), { cpus: 1.5, usageSeconds: 3 });
  const unlimited = systemProbes({
    readTextFile: files({
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
      "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
    }),
  });
  assert.equal(unlimited.cpuQuota(), undefined);
});

Deno.test("cgroup v2 memory headroom discounts inactive page cache", () => {
  const MiB = 1024 ** 2;
  const probes = systemProbes({
    readTextFile: files({
      "/sys/fs/cgroup/memory.max": `${1024 * MiB}\n`,
      "/sys/fs/cgroup/memory.current": `${512 * MiB}\n`,
      "/sys/fs/cgroup/memory.stat": `anon 1\ninactive_file ${
        128 * MiB
      }\nactive_file 2\n`,
    }),
  });
  assert.equal(probes.cgroupMemoryAvailable(), 640 * MiB);
});

Deno.test("cgroup v2 memory.max 'max' is no limit", () => {
  const probes = systemProbes({
    readTextFile: files({
      "/sys/fs/cgroup/memory.max": "max\n",
      "/sys/fs/cgroup/memory.current": "5\n",
    }),
  });
  assert.equal(probes.cgroupMemoryAvailable(), undefined);
});

Deno.test("cgroup v1 memory: a limit counts, the 2^63 'unlimited' does not", () => {
  const limited = systemProbes({
    readTextFile: files({
      "/proc/self/cgroup": "4:memory:/app\n",
      "/sys/fs/cgroup/memory/app/memory.limit_in_bytes": "1000000\n",
      "/sys/fs/cgroup/memory/app/memory.usage_in_bytes": "700000\n",
      "/sys/fs/cgroup/memory/app/memory.stat":
        "cache 5\ntotal_inactive_file 100000\n",
      "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
      "/sys/fs/cgroup/memory/memory.usage_in_bytes": "123456789\n",
    }),
  });
  assert.equal(limited.cgroupMemoryAvailable(), 400000);
  const unlimited = systemProbes({
    readTextFile: files({
      "/proc/self/cgroup": "4:memory:/process_api/x\n",
      "/sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes":
        "9223372036854771712\n",
      "/sys/fs/cgroup/memory/process_api/x/memory.usage_in_bytes": "6885376\n",
    }),
  });
  assert.equal(unlimited.cgroupMemoryAvailable(), undefined);
});

Deno.test("a memory limit without a usage figure is ignored", () => {
  const probes = systemProbes({
    readTextFile: files({ "/sys/fs/cgroup/memory.max": "1000\n" }),
  });
  assert.equal(probes.cgroupMemoryAvailable(), undefined);
});

Deno.test("a usage above the limit reads as no headroom, not negative", () => {
  const probes = systemProbes({
    readTextFile: files({
      "/sys/fs/cgroup/memory.max": "1000\n",
      "/sys/fs/cgroup/memory.current": "1500\n",
    }),
  });
  assert.equal(probes.cgroupMemoryAvailable(), 0);
});

Deno.test("missing files and failing APIs everywhere read as unknown, never throw", () => {
  for (
    const readTextFile of [
      enoent,
      (path: string): string => {
        throw new Deno.errors.PermissionDenied(path);
      },
      (): string => "garbage\n",
    ]
  ) {
    const probes = systemProbes({
      readTextFile,
      loadavg: () => {
        throw new Error("no loadavg here");
      },
      systemMemoryInfo: () => {
        throw new Error("no meminfo here");
      },
      hardwareConcurrency: () => NaN,
    });
    assert.equal(probes.cpuTimes(), undefined);
    assert.equal(probes.loadAverage(), undefined);
    assert.equal(probes.onlineCpus(), 1);
    assert.equal(probes.cpuQuota(), undefined);
    assert.equal(probes.memoryAvailable(), undefined);
    assert.equal(probes.cgroupMemoryAvailable(), undefined);
  }
});

Deno.test("loadavg, memory info and CPU count are passed through", () => {
  const probes = systemProbes({
    readTextFile: enoent,
    loadavg: () => [1.25, 1, 0.5],
    systemMemoryInfo: () => ({ available: 4096 }),
    hardwareConcurrency: () => 6,
  });
  assert.equal(probes.loadAverage(), 1.25);
  assert.equal(probes.memoryAvailable(), 4096);
  assert.equal(probes.onlineCpus(), 6);
});

Deno.test("the real probes run on this machine without throwing", () => {
  const probes = systemProbes();
  const times = probes.cpuTimes();
  let hasProcStat = false;
  try {
    Deno.statSync("/proc/stat");
    hasProcStat = true;
  } catch {
    // not Linux
  }
  if (hasProcStat) {
    assert.ok(times, "/proc/stat is there but did not parse");
    assert.ok(times.total >= times.idle && times.idle >= 0);
    assert.ok(times.cpus >= 1);
  }
  assert.ok(probes.onlineCpus() >= 1);
  const load = probes.loadAverage();
  assert.ok(load === undefined || load >= 0);
  const quota = probes.cpuQuota();
  assert.ok(quota === undefined || quota.cpus > 0);
  const memory = probes.memoryAvailable();
  assert.ok(memory === undefined || memory >= 0);
  const cgroupMemory = probes.cgroupMemoryAvailable();
  assert.ok(cgroupMemory === undefined || cgroupMemory >= 0);
});
