import assert from "node:assert/strict";
import { PoolHistory } from "./pool_history.ts";

const gauges = { queued: 0, idle: 1, busy: 0 };

Deno.test("PoolHistory: a tick closes the second and starts a new one", () => {
  const h = new PoolHistory();
  assert.equal(h.latest, null);
  for (let i = 0; i < 10; i++) h.recordWait(100);
  h.recordResponse(200);
  h.recordResponse(502);
  h.recordResponse(404);
  const s = h.tick(10, { queued: 3, idle: 0, busy: 2 });
  assert.equal(s.t, 10);
  assert.equal(s.waits, 10);
  assert.ok(Math.abs(s.p50! - 100) < 10);
  assert.equal(s.p50, s.p99);
  assert.deepEqual([s.queued, s.idle, s.busy], [3, 0, 2]);
  assert.deepEqual([s.responses, s.errors], [3, 1]);
  assert.equal(h.latest, s);

  const empty = h.tick(11, gauges);
  assert.equal(empty.waits, 0);
  assert.equal(empty.p50, null);
  assert.equal(empty.p99, null);
  assert.equal(empty.responses, 0);
  assert.deepEqual(h.totals, { waits: 10, responses: 3, errors: 1 });
});

Deno.test("PoolHistory: the ring keeps the newest samples in order", () => {
  const h = new PoolHistory({ historySeconds: 5 });
  for (let t = 1; t <= 12; t++) {
    h.recordResponse(200);
    h.tick(t, gauges);
  }
  assert.deepEqual(h.samples().map((s) => s.t), [8, 9, 10, 11, 12]);
  assert.deepEqual(h.samples(10).map((s) => s.t), [11, 12]);
  assert.equal(h.latest?.t, 12);
  assert.equal(h.totals.responses, 12);
});

Deno.test("PoolHistory: the window slides; old waits leave its quantiles", () => {
  const h = new PoolHistory({ windowSeconds: 3 });
  h.recordWait(1000);
  h.tick(1, gauges);
  for (let t = 2; t <= 3; t++) {
    h.recordWait(10);
    h.tick(t, gauges);
  }
  let w = h.window();
  assert.equal(w.seconds, 3);
  assert.equal(w.waits, 3);
  assert.ok(w.p99! > 900, String(w.p99));
  h.recordWait(10);
  h.tick(4, gauges); // the 1000 ms wait of second 1 leaves the window
  w = h.window();
  assert.equal(w.waits, 3);
  assert.ok(w.p99! < 11, String(w.p99));
  for (let t = 5; t <= 8; t++) h.tick(t, gauges);
  w = h.window();
  assert.equal(w.waits, 0);
  assert.equal(w.p50, null);
});

Deno.test("PoolHistory: window counts responses and errors of its seconds", () => {
  const h = new PoolHistory({ windowSeconds: 2 });
  h.recordResponse(500);
  h.tick(1, gauges);
  h.recordResponse(200);
  h.tick(2, gauges);
  h.recordResponse(200);
  h.tick(3, gauges);
  const w = h.window();
  assert.equal(w.seconds, 2);
  assert.equal(w.responses, 2);
  assert.equal(w.errors, 0);
});
