import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { FakeProbes } from "./fake_probes.ts";
import { waitForLoad } from "./load.ts";
import { admitted, ask, settle } from "./gate_test_util.ts";

Deno.test("waitForLoad admits while load per CPU is below the limit", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 4, load: 2 });
  const gate = waitForLoad(0.75, { clock, probes });
  const a = ask(gate);
  const b = ask(gate);
  await settle();
  assert.deepEqual([a, b].map(admitted), [true, true], "2 / 4 < 0.75");

  probes.load = 3; // 3 / 4 is not below 0.75
  const c = ask(gate);
  clock.advance(5000);
  await settle();
  assert.equal(admitted(c), false);

  probes.load = 2.9;
  clock.advance(999);
  await settle();
  assert.equal(admitted(c), false, "re-read once a second");
  clock.advance(1);
  await settle();
  assert.ok(admitted(c));
  for (const p of [a, b, c]) p.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForLoad admits one when none runs; unknown load means one at a time", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 4, load: undefined });
  const gate = waitForLoad(1, { clock, probes });
  const a = ask(gate);
  const b = ask(gate);
  clock.advance(10_000);
  await settle();
  assert.deepEqual([a, b].map(admitted), [true, false]);
  a.ticket!.done?.();
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(b));
  b.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("waitForLoad rampDelay spaces admissions; abort leaves no timers", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 4, load: 0 });
  const gate = waitForLoad(1, { clock, probes, rampDelay: 5000 });
  const a = ask(gate);
  const controller = new AbortController();
  const b = ask(gate, controller.signal);
  clock.advance(4999);
  await settle();
  assert.deepEqual([a, b].map(admitted), [true, false]);
  controller.abort("bye");
  await settle();
  assert.equal(b.error, "bye");
  assert.equal(clock.pending, 0);
  const c = ask(gate);
  clock.advance(1);
  await settle();
  assert.ok(admitted(c));
  a.ticket!.done?.();
  c.ticket!.done?.();
});

Deno.test("waitForLoad rejects nonsense arguments", () => {
  const probes = new FakeProbes();
  for (const max of [0, -1, NaN, Infinity]) {
    assert.throws(() => waitForLoad(max, { probes }), RangeError);
  }
  assert.throws(() => waitForLoad(1, { probes, rampDelay: -1 }), RangeError);
});
