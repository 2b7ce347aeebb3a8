import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { FakeProbes } from "./fake_probes.ts";
import { waitForIdleCpu } from "./idle_cpu.ts";
import { type Probes, systemProbes } from "./probes.ts";
import type { Gate, SlotTicket } from "./types.ts";

const REQ = new Request("http://job.test/");

/** Lets promise callbacks run; never touches a clock. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

interface Pending {
  ticket?: SlotTicket;
  error?: unknown;
}

/** Whether the gate has admitted `p` (a function, so assertions do not narrow `p.ticket`). */
function admitted(p: Pending): boolean {
  return p.ticket !== undefined;
}

/** Asks `gate` and records the outcome when it comes. */
function ask(gate: Gate, signal = new AbortController().signal): Pending {
  const p: Pending = {};
  gate(signal).then((t) => p.ticket = t, (e) => p.error = e);
  return p;
}

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
    reservationTime: 0,
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
  assert.equal(admitted(c), false, "b's reservation: 1.6 - 1.5 < 1.5");
  b.ticket!.requestReceived?.(REQ);
  probes.run(clock, 3000, 3.9); // b started: 0.1 idle
  await settle();
  assert.equal(admitted(c), false);

  b.ticket!.done?.();
  probes.run(clock, 3000, 2.4);
  await settle();
  assert.ok(admitted(c));
  a.ticket!.done?.();
  c.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu reservations keep a burst from over-admitting", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 4 });
  const gate = waitForIdleCpu(1, { clock, probes, rampDelay: 0 });
  const asked = Array.from({ length: 6 }, () => ask(gate));
  // The jobs have not started, so the CPUs keep looking idle.
  probes.run(clock, 5000, 0);
  await settle();
  const admitted = asked.filter((p) => p.ticket);
  assert.equal(admitted.length, 4, "4 idle CPUs, 1 each");

  // Reservations end reservationTime (1 s) after the requests arrive.
  for (const p of admitted) p.ticket!.requestReceived?.(REQ);
  probes.run(clock, 990, 0);
  await settle();
  assert.equal(asked.filter((p) => p.ticket).length, 4);
  probes.run(clock, 300, 0);
  await settle();
  assert.equal(asked.filter((p) => p.ticket).length, 6);
  for (const p of asked) p.ticket!.done?.();
  assert.equal(clock.pending, 0);
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
  // a fetches its input (0.5 CPU) for far longer than reservationTime.
  probes.run(clock, 10_000, 0.5);
  await settle();
  assert.equal(admitted(b), false, "1.5 idle - 1 reserved < 1");

  a.ticket!.resetReservation?.(0);
  await settle();
  assert.ok(admitted(b), "admitted at once, without waiting for a sample");
  a.ticket!.done?.();
  b.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForIdleCpu resetReservation lowers the reservation inside its window", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 2 });
  const gate = waitForIdleCpu(1, {
    clock,
    probes,
    rampDelay: 0,
    reservationTime: 60_000,
  });
  const a = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);
  const b = ask(gate);
  probes.run(clock, 2000, 0.5);
  await settle();
  assert.equal(admitted(b), false);
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

Deno.test("waitForIdleCpu: a cgroup quota of 1.5 CPUs caps capacity", async () => {
  for (const quotaUsage of [true, false]) {
    const clock = new ManualClock();
    const free = new FakeProbes({ cpus: 2 });
    const capped = new FakeProbes({ cpus: 2, quotaCpus: 1.5, quotaUsage });
    const options = { clock, rampDelay: 0, reservationTime: 0 };
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
    reservationTime: 0,
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
  const gate = waitForIdleCpu(0.25, {
    clock,
    probes,
    rampDelay: 0,
    reservationTime: 0,
  });
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
  const probes = new FakeProbes({ cpus: 4, procStat: false, load: 3.5 });
  const gate = waitForIdleCpu(1, {
    clock,
    probes,
    rampDelay: 0,
    reservationTime: 0,
  });
  const a = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);
  const b = ask(gate);
  probes.run(clock, 3000, 0);
  await settle();
  assert.equal(admitted(b), false, "4 - 3.5 < 1");
  probes.load = 2.5;
  probes.run(clock, 3000, 0);
  await settle();
  assert.ok(admitted(b), "4 - 2.5 >= 1");
  a.ticket!.done?.();
  b.ticket!.done?.();
});

Deno.test("waitForIdleCpu smooths: one busy sample does not close the gate", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 4 });
  const gate = waitForIdleCpu(1, {
    clock,
    probes,
    rampDelay: 0,
    reservationTime: 0,
  });
  const a = ask(gate);
  await settle();
  a.ticket!.requestReceived?.(REQ);
  const b = ask(gate);
  probes.run(clock, 2000, 4); // saturated: 0 idle, b waits
  await settle();
  assert.equal(admitted(b), false);
  probes.run(clock, 250, 0); // one idle sample: the average is only 2
  await settle();
  assert.ok(admitted(b), "2 smoothed idle >= 1");
  const c = ask(gate);
  probes.run(clock, 250, 4); // one busy sample: the average drops to 1, minus nothing reserved
  await settle();
  assert.ok(admitted(c), "1 smoothed idle >= 1");
  for (const p of [a, b, c]) p.ticket!.done?.();
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
  assert.throws(() => waitForIdleCpu(1, { probes, smoothing: 0 }), RangeError);
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
