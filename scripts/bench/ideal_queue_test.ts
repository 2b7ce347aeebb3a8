import assert from "node:assert/strict";
import { ServiceTimes, simulateFifo } from "./ideal_queue.ts";

Deno.test("FIFO with 2 servers, hand-computed", () => {
  // t=0 a(10) → s0 0..10; t=1 b(10) → s1 1..11; t=2 c(5) waits for s0: 10..15;
  // t=3 d(1) waits for s1: 11..12; t=20 e(2) → idle server 20..22
  const lat = simulateFifo([
    { atMs: 0, serviceMs: 10 },
    { atMs: 1, serviceMs: 10 },
    { atMs: 2, serviceMs: 5 },
    { atMs: 3, serviceMs: 1 },
    { atMs: 20, serviceMs: 2 },
  ], 2);
  assert.deepEqual(lat, [10, 10, 13, 9, 2]);
});

Deno.test("FIFO with 1 server is a single queue", () => {
  const lat = simulateFifo([
    { atMs: 0, serviceMs: 3 },
    { atMs: 0, serviceMs: 3 },
    { atMs: 1, serviceMs: 3 },
  ], 1);
  assert.deepEqual(lat, [3, 6, 8]);
});

Deno.test("FIFO rejects unsorted input and zero servers", () => {
  assert.throws(() =>
    simulateFifo([{ atMs: 2, serviceMs: 1 }, { atMs: 1, serviceMs: 1 }], 1)
  );
  assert.throws(() => simulateFifo([], 0));
});

Deno.test("empirical service times draw from their own size", () => {
  const st = new ServiceTimes(new Map([[50, [51, 52, 53, 54]], [500, [501]]]));
  assert.deepEqual(st.sample(50, 0), 51);
  assert.deepEqual(st.sample(50, 0.5), 53);
  assert.deepEqual(st.sample(50, 0.9999), 54);
  assert.deepEqual(st.sample(500, 0.3), 501);
  assert.deepEqual(st.mean(50), 52.5);
  assert.deepEqual(st.sizes(), [50, 500]);
  assert.throws(() => st.sample(5, 0));
});
