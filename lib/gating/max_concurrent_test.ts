import assert from "node:assert/strict";
import { maxConcurrent } from "./max_concurrent.ts";
import { admitted, ask, settle } from "./gate_test_util.ts";

Deno.test("maxConcurrent admits n, then one per done, in order", async () => {
  const gate = maxConcurrent(2);
  const asked = Array.from({ length: 5 }, () => ask(gate));
  await settle();
  assert.deepEqual(asked.map(admitted), [true, true, false, false, false]);
  asked[1].ticket!.done?.();
  await settle();
  assert.deepEqual(asked.map(admitted), [true, true, true, false, false]);
  asked[0].ticket!.done?.();
  asked[2].ticket!.done?.();
  await settle();
  assert.deepEqual(asked.map(admitted), [true, true, true, true, true]);
  for (const p of asked) p.ticket!.done?.();
});

Deno.test("maxConcurrent done() is idempotent", async () => {
  const gate = maxConcurrent(1);
  const a = ask(gate);
  await settle();
  const b = ask(gate);
  const c = ask(gate);
  a.ticket!.done?.();
  a.ticket!.done?.();
  await settle();
  assert.deepEqual([b, c].map(admitted), [true, false]);
  b.ticket!.done?.();
  await settle();
  assert.ok(admitted(c));
  c.ticket!.done?.();
});

Deno.test("maxConcurrent abort removes the caller from the queue", async () => {
  const gate = maxConcurrent(1);
  const a = ask(gate);
  const controller = new AbortController();
  const b = ask(gate, controller.signal);
  const c = ask(gate);
  controller.abort("stop");
  await settle();
  assert.equal(b.error, "stop");
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(c), "c took the place b left");
  assert.equal(admitted(b), false);
  c.ticket!.done?.();
  const d = ask(gate, controller.signal);
  await settle();
  assert.equal(d.error, "stop");
});

Deno.test("maxConcurrent rejects n that is not an integer >= 1", () => {
  for (const n of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => maxConcurrent(n), RangeError, String(n));
  }
});
