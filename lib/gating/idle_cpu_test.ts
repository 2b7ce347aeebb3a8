import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { FakeProbes } from "./fake_probes.ts";
import { type IdleCpuOptions, waitForIdleCpu } from "./idle_cpu.ts";
import { maxConcurrent } from "./max_concurrent.ts";
import { type Probes, systemProbes } from "./probes.ts";
import type { Gate, SlotTicket } from "./types.ts";
import { admitted, ask, settle } from "./gate_test_util.ts";

const REQ = new Request("http://job.test/");

Deno.test("waitForIdleCpu admits one job when none runs, however busy the host", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 2 });
  probes.run(clock, 1000, 2);
  const gate = waitForIdleCpu(1, { clock, probes });
  const a = ask(gate);
  await settle();
  assert.ok(admitted(a));
  assert.equal(clock.pending, 0);
  a.ticket!.done?.();
});

Deno.test("waitForIdleCpu admits while `required` CPUs are idle and blocks below", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 4 });
  const gate = waitForIdleCpu(1.5, {
    clock,
    probes,
    rampDelay: 0,
    tolerance: 0,
  });
  const a = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);

  probes.run(clock, 2000, 2.6); // 1.4 idle
  const b = ask(gate);
  probes.run(clock, 2000, 2.6);
  await settle();
  assert.equal(admitted(b), false, "1.4 idle < 1.5 required");

  probes.run(clock, 2000, 2.4); // 1.6 idle
  await settle();
  assert.ok(admitted(b), "1.6 idle >= 1.5 required");
  const c = ask(gate);
  await settle();
  assert.equal(admitted(c), false, "b is pulled, not running: 1.6 - 1.5 < 1.5");
  b.ticket!.requestReceived?.(REQ);
  probes.run(clock, 3000, 3.9); // b runs: 0.1 idle
  await settle();
  assert.equal(admitted(c), false);

  b.ticket!.done?.();
  await settle();
  assert.ok(admitted(c), "b's 1.5 CPUs are free the moment it is done");
  a.ticket!.done?.();
  c.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu tolerance: admits when (1 - tolerance) of the CPUs are idle", async () => {
  for (
    const [tolerance, busy, open] of [[0.5, 1.5, true], [0.5, 1.6, false], [
      0.25,
      1.25,
      true,
    ], [0.25, 1.3, false]] as const
  ) {
    const clock = new ManualClock();
    const probes = new FakeProbes({ cpus: 2 });
    const gate = waitForIdleCpu(1, { clock, probes, rampDelay: 0, tolerance });
    const a = ask(gate);
    await settle();
    a.ticket!.requestReceived?.(REQ); // a uses 1 CPU, others the rest
    const b = ask(gate);
    probes.run(clock, 2000, busy);
    await settle();
    assert.equal(admitted(b), open, `tolerance ${tolerance}, ${2 - busy} idle`);
    a.ticket!.done?.();
    await settle();
    b.ticket?.done?.();
  }
});

Deno.test("waitForIdleCpu counts a started job's CPU once: in the figures, not also as a reservation", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 2 });
  const gate = waitForIdleCpu(1, {
    clock,
    probes,
    rampDelay: 0,
    tolerance: 0,
  });
  const a = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);
  const b = ask(gate);
  probes.run(clock, 250, 1); // a busy on one CPU from its start
  await settle();
  assert.ok(
    admitted(b),
    "1 idle at the first sample; a is not reserved on top",
  );
  b.ticket!.requestReceived?.(REQ);
  const c = ask(gate);
  probes.run(clock, 5000, 2); // a and b busy
  await settle();
  assert.equal(admitted(c), false, "no CPU idle: not a third");
  for (const p of [a, b]) p.ticket!.done?.();
  await settle();
  c.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu frees a finished job's CPU at once: its replacement waits for no sample and no ramp", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 2 });
  const gate = waitForIdleCpu(1, { clock, probes });
  const a = ask(gate);
  const b = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);
  probes.run(clock, 500, 1);
  await settle();
  assert.ok(admitted(b), "second CPU idle, ramp over");
  b.ticket!.requestReceived?.(REQ);
  const c = ask(gate);
  const d = ask(gate);
  probes.run(clock, 3000, 2);
  await settle();
  assert.equal(admitted(c), false);
  probes.run(clock, 120, 2); // between samples
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(c), "replaces a at once");
  c.ticket!.requestReceived?.(REQ);
  probes.run(clock, 5000, 2);
  await settle();
  assert.equal(admitted(d), false, "b and c busy: no room for d");
  for (const p of [b, c]) p.ticket!.done?.();
  await settle();
  d.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu reserves `required` for pulled jobs, so a burst cannot over-admit", async () => {
  for (const busyOnceRunning of [true, false]) {
    const clock = new ManualClock();
    const probes = new FakeProbes({ cpus: 4 });
    const gate = waitForIdleCpu(1, { clock, probes, rampDelay: 0 });
    const asked = Array.from({ length: 6 }, () => ask(gate));
    // The jobs have not started, so the CPUs keep looking idle.
    probes.run(clock, 5000, 0);
    await settle();
    const first = asked.filter((p) => p.ticket);
    assert.equal(first.length, 4, "4 idle CPUs, 1 each");
    for (const p of first) p.ticket!.requestReceived?.(REQ);
    probes.run(clock, 5000, busyOnceRunning ? 4 : 0);
    await settle();
    assert.equal(
      asked.filter((p) => p.ticket).length,
      busyOnceRunning ? 4 : 6,
      busyOnceRunning
        ? "the four use the four CPUs"
        : "the four turn out to leave the CPUs idle",
    );
    for (const p of asked) p.ticket?.done?.();
    await settle();
    for (const p of asked) p.ticket?.done?.();
    assert.equal(clock.pending, 0);
  }
});

Deno.test("waitForIdleCpu keepReservation holds until resetReservation frees it", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 2 });
  const gate = waitForIdleCpu(1, {
    clock,
    probes,
    rampDelay: 0,
    keepReservation: true,
  });
  const a = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);
  const b = ask(gate);
  // a fetches its input (0.8 CPU) for a long while.
  probes.run(clock, 10_000, 0.8);
  await settle();
  assert.equal(admitted(b), false, "1.2 idle - 1 reserved < 0.5");

  a.ticket!.resetReservation?.(0);
  await settle();
  assert.ok(admitted(b), "admitted at once, without waiting for a sample");
  a.ticket!.done?.();
  b.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu resetReservation(n) sets what a job is assumed to use", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 2 });
  const gate = waitForIdleCpu(1, {
    clock,
    probes,
    rampDelay: 0,
    tolerance: 0,
    keepReservation: true,
  });
  const a = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);
  const b = ask(gate);
  probes.run(clock, 2000, 0.5);
  await settle();
  assert.equal(admitted(b), false, "1.5 - 1 < 1");
  a.ticket!.resetReservation?.(0.25);
  await settle();
  assert.ok(admitted(b), "1.5 - 0.25 >= 1");
  a.ticket!.done?.();
  b.ticket!.done?.();
});

Deno.test("waitForIdleCpu ramp delay holds the next admission until the clock moves", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 4 });
  const gate = waitForIdleCpu(1, { clock, probes });
  const a = ask(gate);
  const b = ask(gate);
  await settle();
  assert.ok(admitted(a));
  probes.run(clock, 490, 0);
  await settle();
  assert.equal(admitted(b), false, "ramp delay is 500 ms");
  probes.run(clock, 10, 0);
  await settle();
  assert.ok(admitted(b));
  assert.equal(clock.pending, 0);
  a.ticket!.done?.();
  b.ticket!.done?.();
});

Deno.test("waitForIdleCpu ramp delay spaces growth, not the replacement of a finished job", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 8 });
  const gate = waitForIdleCpu(1, { clock, probes, rampDelay: 1000 });
  const a = ask(gate);
  const b = ask(gate);
  probes.run(clock, 1000, 0);
  await settle();
  assert.ok(admitted(b), "t = 1000");
  const c = ask(gate);
  const d = ask(gate);
  probes.run(clock, 100, 0);
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(c), "replaces a: no ramp");
  probes.run(clock, 890, 0);
  await settle();
  assert.equal(admitted(d), false, "growth: 1000 ms after b");
  probes.run(clock, 10, 0);
  await settle();
  assert.ok(admitted(d));
  // Each job done lets one waiter skip the ramp, no more.
  const e = ask(gate);
  b.ticket!.done?.();
  const f = ask(gate);
  await settle();
  assert.ok(admitted(e), "replaces b");
  probes.run(clock, 999, 0);
  await settle();
  assert.equal(admitted(f), false);
  probes.run(clock, 1, 0);
  await settle();
  assert.ok(admitted(f));
  for (const p of [c, d, e, f]) p.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu: a cgroup quota of 1.5 CPUs caps capacity", async () => {
  for (const quotaUsage of [true, false]) {
    const clock = new ManualClock();
    const free = new FakeProbes({ cpus: 2 });
    const capped = new FakeProbes({ cpus: 2, quotaCpus: 1.5, quotaUsage });
    const options = { clock, rampDelay: 0, tolerance: 0 };
    const freeGate = waitForIdleCpu(1, { ...options, probes: free });
    const cappedGate = waitForIdleCpu(1, { ...options, probes: capped });
    const a1 = ask(freeGate);
    const a2 = ask(cappedGate);
    await settle();
    a1.ticket!.requestReceived?.(REQ);
    a2.ticket!.requestReceived?.(REQ);
    const b1 = ask(freeGate);
    const b2 = ask(cappedGate);
    for (let t = 0; t < 3000; t += 10) {
      // One job runs on each (one CPU busy).
      free.spend(10, 1);
      capped.spend(10, 1);
      clock.advance(10);
    }
    await settle();
    assert.ok(admitted(b1), "2 CPUs - 1 busy leaves 1");
    assert.equal(
      b2.ticket,
      undefined,
      `1.5 CPUs - 1 busy leaves 0.5 (usage: ${quotaUsage})`,
    );
    for (const p of [a1, a2, b1]) p.ticket!.done?.();
    await settle();
    assert.ok(admitted(b2));
    b2.ticket!.done?.();
    assert.equal(clock.pending, 0);
  }
});

Deno.test("waitForIdleCpu under a quota ignores other tenants of a big host", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 16, quotaCpus: 2 });
  const gate = waitForIdleCpu(1, {
    clock,
    probes,
    rampDelay: 0,
    tolerance: 0,
  });
  const a = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);
  const b = ask(gate);
  // The host is 10/16 busy, but our cgroup uses 0.5 of its 2 CPUs.
  probes.run(clock, 2000, 10, 0.5);
  await settle();
  assert.ok(admitted(b));
  a.ticket!.done?.();
  b.ticket!.done?.();
});

Deno.test("waitForIdleCpu defaults maxConcurrent to 2 x CPUs / required", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 2 });
  const gate = waitForIdleCpu(0.25, { clock, probes, rampDelay: 0 });
  const asked = Array.from({ length: 20 }, () => ask(gate));
  await settle();
  for (let i = 0; i < 40; i++) {
    for (const p of asked) p.ticket?.requestReceived?.(REQ);
    probes.run(clock, 250, 0);
    await settle();
  }
  assert.equal(asked.filter((p) => p.ticket).length, 16);
  const limited = waitForIdleCpu(0.25, {
    clock,
    probes,
    rampDelay: 0,
    maxConcurrent: 3,
  });
  const more = Array.from({ length: 5 }, () => ask(limited));
  for (let i = 0; i < 20; i++) {
    for (const p of more) p.ticket?.requestReceived?.(REQ);
    probes.run(clock, 250, 0);
    await settle();
  }
  assert.equal(more.filter((p) => p.ticket).length, 3);
  for (const p of [...asked, ...more]) p.ticket?.done?.();
  for (const p of [...asked, ...more]) p.ticket?.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu falls back to the load average without /proc/stat", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 4, procStat: false, load: 3.6 });
  const gate = waitForIdleCpu(1, { clock, probes, rampDelay: 0 });
  const a = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);
  const b = ask(gate);
  probes.run(clock, 3000, 0);
  await settle();
  assert.equal(admitted(b), false, "4 - 3.6 < 0.5");
  probes.load = 2.5;
  probes.run(clock, 3000, 0);
  await settle();
  assert.ok(admitted(b), "4 - 2.5 >= 0.5");
  // The load average lags by a minute: running jobs count at `required` at least.
  probes.load = 0;
  b.ticket!.requestReceived?.(REQ);
  const more = [ask(gate), ask(gate), ask(gate)];
  probes.run(clock, 3000, 0);
  await settle();
  assert.deepEqual(more.map(admitted), [true, true, false]);
  for (const p of [a, b, ...more]) p.ticket?.done?.();
  await settle();
  for (const p of more) p.ticket?.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu averages the figures over `window`: a one-sample dip does not open it", async () => {
  for (const window of [250, 1000]) {
    const clock = new ManualClock();
    const probes = new FakeProbes({ cpus: 4 });
    const gate = waitForIdleCpu(1, {
      clock,
      probes,
      window,
      rampDelay: 0,
      tolerance: 0,
    });
    const a = ask(gate);
    await settle();
    a.ticket!.requestReceived?.(REQ);
    const b = ask(gate);
    probes.run(clock, 2000, 4); // saturated: 0 idle, b waits
    await settle();
    assert.equal(admitted(b), false);
    probes.run(clock, 250, 2); // one sample of 2 idle
    await settle();
    assert.equal(
      admitted(b),
      window === 250,
      `window ${window}: ${window === 250 ? 2 : 0.5} idle`,
    );
    probes.run(clock, 750, 2); // the whole window at 2 idle
    await settle();
    assert.ok(admitted(b));
    a.ticket!.done?.();
    b.ticket!.done?.();
    assert.equal(clock.pending, 0);
  }
});

Deno.test("waitForIdleCpu with nothing readable admits one, then assumes `required` per job", async () => {
  const clock = new ManualClock();
  const probes = systemProbes({
    readTextFile: (path) => {
      throw new Deno.errors.NotFound(`ENOENT: ${path}`);
    },
    loadavg: () => {
      throw new Error("unsupported");
    },
    systemMemoryInfo: () => {
      throw new Error("unsupported");
    },
    hardwareConcurrency: () => 2,
  });
  const gate = waitForIdleCpu(1, { clock, probes, rampDelay: 0 });
  const asked = [ask(gate), ask(gate), ask(gate)];
  await settle();
  clock.advance(5000);
  await settle();
  assert.deepEqual(asked.map((p) => p.ticket !== undefined), [
    true,
    true,
    false,
  ]);
  assert.deepEqual(asked.map((p) => p.error), [
    undefined,
    undefined,
    undefined,
  ]);
  asked[0].ticket!.done?.();
  await settle();
  assert.ok(asked[2].ticket);
  asked[1].ticket!.done?.();
  asked[2].ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu abort rejects with the reason and leaves no timers", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 1 });
  const gate = waitForIdleCpu(1, { clock, probes });
  const a = ask(gate);
  await settle();
  const controller = new AbortController();
  const b = ask(gate, controller.signal);
  probes.run(clock, 1000, 1);
  assert.ok(clock.pending > 0, "sampling while b waits");
  const reason = new Error("shutting down");
  controller.abort(reason);
  await settle();
  assert.equal(b.error, reason);
  assert.equal(clock.pending, 0);
  // An already aborted signal rejects at once.
  const c = ask(gate, controller.signal);
  await settle();
  assert.equal(c.error, reason);
  assert.equal(clock.pending, 0);
  a.ticket!.done?.();
});

Deno.test("waitForIdleCpu samples on the clock, not in a loop", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 1 });
  let reads = 0;
  const counted: Probes = {
    cpuTimes: () => {
      reads++;
      return probes.cpuTimes();
    },
    loadAverage: () => probes.loadAverage(),
    onlineCpus: () => probes.onlineCpus(),
    cpuQuota: () => probes.cpuQuota(),
    memoryAvailable: () => probes.memoryAvailable(),
    cgroupMemoryAvailable: () => probes.cgroupMemoryAvailable(),
  };
  const gate = waitForIdleCpu(1, {
    clock,
    probes: counted,
    sampleInterval: 250,
  });
  const a = ask(gate);
  await settle();
  const b = ask(gate);
  probes.run(clock, 1000, 1);
  await settle();
  assert.ok(reads >= 4 && reads <= 6, `read /proc/stat ${reads} times in 1 s`);
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(b));
  b.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu done() is idempotent", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 4 });
  const gate = waitForIdleCpu(1, {
    clock,
    probes,
    rampDelay: 0,
    maxConcurrent: 1,
  });
  const a = ask(gate);
  await settle();
  const b = ask(gate);
  const c = ask(gate);
  a.ticket!.done?.();
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(b));
  assert.equal(admitted(c), false, "a's second done() freed nothing");
  b.ticket!.done?.();
  await settle();
  c.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu rejects nonsense arguments", () => {
  const probes = new FakeProbes();
  for (const required of [0, -1, NaN, Infinity]) {
    assert.throws(() => waitForIdleCpu(required, { probes }), RangeError);
  }
  for (const window of [0, 100, NaN, Infinity]) {
    assert.throws(() => waitForIdleCpu(1, { probes, window }), RangeError);
  }
  for (const tolerance of [-0.1, 1, NaN]) {
    assert.throws(() => waitForIdleCpu(1, { probes, tolerance }), RangeError);
  }
  assert.throws(
    () => waitForIdleCpu(1, { probes, sampleInterval: 0 }),
    RangeError,
  );
  assert.throws(
    () => waitForIdleCpu(1, { probes, maxConcurrent: 0 }),
    RangeError,
  );
  assert.throws(() => waitForIdleCpu(1, { probes, rampDelay: -1 }), RangeError);
});

Deno.test("waitForIdleCpu on this machine's real probes admits one and aborts cleanly", async () => {
  const clock = new ManualClock();
  const gate = waitForIdleCpu(1, { clock, maxConcurrent: 1 });
  const a = ask(gate);
  await settle();
  assert.ok(admitted(a));
  const controller = new AbortController();
  const b = ask(gate, controller.signal);
  clock.advance(1000); // real /proc/stat, fake time: whatever it reads, no throw
  controller.abort("done");
  await settle();
  assert.equal(b.error, "done");
  assert.equal(clock.pending, 0);
  a.ticket!.done?.();
});

// A closed loop on fake CPUs, like a `--poll-jobs` worker with a full queue:
// one puller asks the gate, each admitted job's request arrives 2 ms later
// (the pull), then the job waits `waitMs` with the CPU idle and computes
// `cpuMs` on one CPU; jobs computing at once share the CPUs the background
// leaves. The fake /proc/stat shows the background and the computing jobs.

/** A job of {@linkcode simulate}. */
interface SimJob {
  waitMs: number;
  cpuMs: number;
}

/** The figures of a {@linkcode simulate} run, after its warm-up. */
interface SimResult {
  jobsPerSec: number;
  meanRunning: number;
  maxRunning: number;
}

/** A small seeded PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function simulate(o: {
  cpus: number;
  gate: (clock: ManualClock, probes: FakeProbes) => Gate;
  job: (random: () => number) => SimJob;
  /** Busy CPUs of other tenants at time t. @default {() => 0} */
  background?: (t: number, random: () => number) => number;
  ms?: number;
  warmupMs?: number;
}): Promise<SimResult> {
  const step = 5, dial = 2;
  const ms = o.ms ?? 20_000, warmup = o.warmupMs ?? 5_000;
  const random = prng(7);
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: o.cpus });
  const gate = o.gate(clock, probes);
  const stop = new AbortController();
  const running: { ticket: SlotTicket; wait: number; cpu: number }[] = [];
  const pull = () => {
    gate(stop.signal).then((ticket) => {
      clock.setTimeout(() => {
        ticket.requestReceived?.(REQ);
        const job = o.job(random);
        running.push({ ticket, wait: job.waitMs, cpu: job.cpuMs });
        pull();
      }, dial);
    }, () => {});
  };
  pull();
  let done = 0, sum = 0, samples = 0, max = 0;
  for (let t = 0; t < ms; t += step) {
    const background = Math.max(0, o.background?.(t, random) ?? 0);
    const computing = running.filter((j) => j.wait <= 0).length;
    const share = computing > 0
      ? Math.min(1, Math.max(0, o.cpus - background) / computing)
      : 0;
    probes.spend(step, Math.min(o.cpus, background + share * computing));
    for (const j of running) {
      if (j.wait > 0) j.wait -= step;
      else j.cpu -= step * share;
    }
    clock.advance(step);
    for (const j of running.filter((j) => j.wait <= 0 && j.cpu <= 1e-9)) {
      running.splice(running.indexOf(j), 1);
      j.ticket.done?.();
      if (t >= warmup) done++;
    }
    if (t >= warmup) {
      sum += running.length;
      samples++;
      max = Math.max(max, running.length);
    }
    await settle();
  }
  stop.abort();
  for (const j of running) j.ticket.done?.();
  await settle();
  return {
    jobsPerSec: done / ((ms - warmup) / 1000),
    meanRunning: sum / samples,
    maxRunning: max,
  };
}

/** The gate under test and fixed slot counts, on the same loop. */
async function versusFixed(
  sim: Omit<Parameters<typeof simulate>[0], "gate">,
  fixed: number[],
  options: IdleCpuOptions = {},
): Promise<{ gated: SimResult; bestFixed: number }> {
  let bestFixed = 0;
  for (const n of fixed) {
    const r = await simulate({ ...sim, gate: () => maxConcurrent(n) });
    bestFixed = Math.max(bestFixed, r.jobsPerSec);
  }
  const gated = await simulate({
    ...sim,
    gate: (clock, probes) => waitForIdleCpu(1, { clock, probes, ...options }),
  });
  return { gated, bestFixed };
}

const cpuBound = (ms: number) => (): SimJob => ({ waitMs: 0, cpuMs: ms });
/** Other tenants: a level drawn in [0, max) every 200 ms. */
function noise(max: number) {
  let level = 0, next = 0;
  return (t: number, random: () => number) => {
    if (t >= next) [level, next] = [max * random(), t + 200];
    return level;
  };
}

Deno.test("waitForIdleCpu keeps N sub-second CPU-bound jobs running on N idle CPUs, not 1", async () => {
  const { gated, bestFixed } = await versusFixed(
    { cpus: 4, job: cpuBound(200) },
    [4],
  );
  assert.ok(gated.meanRunning >= 3.6, `mean ${gated.meanRunning} at once`);
  assert.ok(gated.maxRunning <= 4, `max ${gated.maxRunning} at once`);
  assert.ok(gated.jobsPerSec >= 0.95 * bestFixed, `${gated.jobsPerSec}/s`);
});

Deno.test("waitForIdleCpu on a noisy host (0-0.6 CPU of other tenants) does not starve", async () => {
  const { gated, bestFixed } = await versusFixed(
    { cpus: 2, job: cpuBound(200), background: noise(0.6) },
    [1, 2, 4],
  );
  assert.ok(gated.meanRunning >= 1.8, `mean ${gated.meanRunning} at once`);
  assert.ok(gated.maxRunning <= 2, `max ${gated.maxRunning} at once`);
  assert.ok(gated.jobsPerSec >= 0.9 * bestFixed, `${gated.jobsPerSec}/s`);
});

Deno.test("waitForIdleCpu runs more jobs than CPUs while they wait on I/O, up to maxConcurrent", async () => {
  const { gated } = await versusFixed(
    { cpus: 2, job: () => ({ waitMs: 300, cpuMs: 20 }) },
    [],
  );
  assert.ok(gated.meanRunning >= 3.6, `mean ${gated.meanRunning} at once`);
  assert.equal(gated.maxRunning, 4, "2 x 2 CPUs / 1");
  const capped = await simulate({
    cpus: 2,
    job: () => ({ waitMs: 300, cpuMs: 20 }),
    gate: (clock, probes) =>
      waitForIdleCpu(1, { clock, probes, maxConcurrent: 6 }),
  });
  assert.ok(capped.meanRunning >= 5.4, `mean ${capped.meanRunning} at once`);
});

Deno.test("waitForIdleCpu on the benchmark's mix matches the best fixed slot count", async () => {
  // scripts/bench/gated.ts: 40 % CPU 200 ms, 40 % wait 300 + CPU 20, 20 % 100 + 100.
  const job = (random: () => number): SimJob => {
    const x = random();
    if (x < 0.4) return { waitMs: 0, cpuMs: 200 };
    return x < 0.8 ? { waitMs: 300, cpuMs: 20 } : { waitMs: 100, cpuMs: 100 };
  };
  for (const background of [undefined, noise(0.6)]) {
    const { gated, bestFixed } = await versusFixed(
      { cpus: 2, job, background },
      [1, 2, 4],
    );
    assert.ok(
      gated.jobsPerSec >= 0.95 * bestFixed,
      `${gated.jobsPerSec}/s vs ${bestFixed}/s`,
    );
  }
});

Deno.test("waitForIdleCpu leaves the CPUs a steady tenant uses", async () => {
  const gated = await simulate({
    cpus: 2,
    job: cpuBound(200),
    background: () => 1,
    gate: (clock, probes) => waitForIdleCpu(1, { clock, probes }),
  });
  assert.ok(gated.maxRunning <= 1, `max ${gated.maxRunning} at once`);
});

Deno.test("waitForIdleCpu without a ramp never runs more long CPU-bound jobs than CPUs", async () => {
  const gated = await simulate({
    cpus: 2,
    job: cpuBound(3000),
    gate: (clock, probes) => waitForIdleCpu(1, { clock, probes, rampDelay: 0 }),
  });
  assert.equal(gated.maxRunning, 2);
  assert.ok(gated.meanRunning >= 1.9, `mean ${gated.meanRunning} at once`);
});
