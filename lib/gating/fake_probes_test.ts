import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { FakeProbes } from "./fake_probes.ts";

Deno.test("FakeProbes counters move with spend/run, the clock with run only", () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 2, quotaCpus: 1 });
  probes.spend(1000, 1, 0.5);
  assert.deepEqual(probes.cpuTimes(), { idle: 1000, total: 2000, cpus: 2 });
  assert.deepEqual(probes.cpuQuota(), { cpus: 1, usageSeconds: 0.5 });
  assert.equal(clock.now(), 0);
  probes.run(clock, 105, 2);
  assert.equal(clock.now(), 105);
  assert.deepEqual(probes.cpuTimes(), { idle: 1000, total: 2210, cpus: 2 });
});

Deno.test("FakeProbes reports what it was given, and unknowns as undefined", () => {
  const probes = new FakeProbes({
    procStat: false,
    quotaUsage: false,
    quotaCpus: 3,
  });
  assert.equal(probes.cpuTimes(), undefined);
  assert.equal(probes.onlineCpus(), 4);
  assert.deepEqual(probes.cpuQuota(), { cpus: 3 });
  assert.equal(probes.loadAverage(), undefined);
  assert.equal(probes.memoryAvailable(), undefined);
  assert.equal(probes.cgroupMemoryAvailable(), undefined);
  probes.load = 1.5;
  probes.memory = 10;
  probes.cgroupMemory = 5;
  assert.equal(probes.loadAverage(), 1.5);
  assert.equal(probes.memoryAvailable(), 10);
  assert.equal(probes.cgroupMemoryAvailable(), 5);
});
