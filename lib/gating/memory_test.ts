import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { FakeProbes } from "./fake_probes.ts";
import { waitForMemory } from "./memory.ts";
import { systemProbes } from "./probes.ts";
import { admitted, ask, settle } from "./gate_test_util.ts";

Deno.test("waitForMemory admits while free memory minus reservations covers a job", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ memory: 1000 });
  const gate = waitForMemory(300, { clock, probes });
  const asked = [ask(gate), ask(gate), ask(gate), ask(gate)];
  await settle();
  // 1000 - 0, 1000 - 300, 1000 - 600 >= 300; 1000 - 900 < 300.
  assert.deepEqual(asked.map(admitted), [true, true, true, false]);

  // Memory freed elsewhere is seen at the next sample.
  probes.memory = 1200;
  clock.advance(249);
  await settle();
  assert.equal(admitted(asked[3]), false);
  clock.advance(1);
  await settle();
  assert.ok(admitted(asked[3]));
  for (const p of asked) p.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForMemory: a finished job's reservation is released at once", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ memory: 500 });
  const gate = waitForMemory(300, { clock, probes });
  const a = ask(gate);
  const b = ask(gate);
  await settle();
  assert.ok(admitted(a));
  assert.equal(admitted(b), false);
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(b), "no clock movement needed");
  b.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForMemory takes the smaller of system and cgroup headroom", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ memory: 10_000, cgroupMemory: 500 });
  const gate = waitForMemory(300, { clock, probes });
  const asked = [ask(gate), ask(gate)];
  await settle();
  assert.deepEqual(asked.map(admitted), [true, false]);
  probes.cgroupMemory = 700;
  clock.advance(250);
  await settle();
  assert.deepEqual(asked.map(admitted), [true, true]);
  // Only a cgroup figure (no system one) still gates.
  probes.memory = undefined;
  probes.cgroupMemory = 100;
  const c = ask(gate);
  clock.advance(1000);
  await settle();
  assert.equal(admitted(c), false);
  for (const p of asked) p.ticket!.done?.();
  await settle();
  assert.ok(admitted(c), "one always runs");
  c.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForMemory admits one when none runs, even with no memory free", async () => {
  const clock = new ManualClock();
  const gate = waitForMemory(1 << 30, {
    clock,
    probes: new FakeProbes({ memory: 0 }),
  });
  const a = ask(gate);
  await settle();
  assert.ok(admitted(a));
  a.ticket!.done?.();
});

Deno.test("waitForMemory with missing files runs jobs one at a time and never throws", async () => {
  const clock = new ManualClock();
  const probes = systemProbes({
    readTextFile: (path) => {
      throw new Deno.errors.NotFound(`ENOENT: ${path}`);
    },
    systemMemoryInfo: () => {
      throw new Error("unsupported");
    },
  });
  const gate = waitForMemory(1, { clock, probes });
  const asked = [ask(gate), ask(gate)];
  clock.advance(1000);
  await settle();
  assert.deepEqual(asked.map(admitted), [true, false]);
  asked[0].ticket!.done?.();
  await settle();
  assert.ok(admitted(asked[1]));
  asked[1].ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForMemory abort rejects and leaves no timers; done() is idempotent", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ memory: 500 });
  const gate = waitForMemory(300, { clock, probes });
  const a = ask(gate);
  const controller = new AbortController();
  const b = ask(gate, controller.signal);
  const c = ask(gate);
  await settle();
  assert.ok(clock.pending > 0);
  controller.abort(new DOMException("stop", "AbortError"));
  await settle();
  assert.ok(b.error instanceof DOMException);
  assert.ok(clock.pending > 0, "c still waits");
  a.ticket!.done?.();
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(c));
  const d = ask(gate);
  a.ticket!.done?.();
  await settle();
  assert.equal(admitted(d), false, "a's extra done() released nothing");
  const stop = new AbortController();
  const e = ask(gate, stop.signal);
  stop.abort();
  await settle();
  assert.ok(e.error instanceof DOMException);
  c.ticket!.done?.();
  await settle();
  d.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForMemory rejects nonsense arguments", () => {
  const probes = new FakeProbes();
  for (const bytes of [0, -5, NaN, Infinity]) {
    assert.throws(() => waitForMemory(bytes, { probes }), RangeError);
  }
  assert.throws(
    () => waitForMemory(1, { probes, sampleInterval: 0 }),
    RangeError,
  );
});
