import assert from "node:assert/strict";
import { StatusBoard } from "./status_board.ts";

function source() {
  const pools = [
    { name: "default", queued: 0, idle: 2, busy: 0 },
    { name: "gpu", queued: 4, idle: 0, busy: 1 },
  ];
  return { pools, src: { pools: () => pools } };
}

Deno.test("StatusBoard: snapshot reads live gauges and per-pool history", () => {
  const { src } = source();
  const board = new StatusBoard(src, {}, 0);
  board.pool("gpu").recordWait(50);
  board.pool("gpu").recordResponse(200);
  board.tick(1_000);
  const snap = board.snapshot({ now: 1_500, draining: true });
  assert.equal(snap.t, 1);
  assert.equal(snap.uptime_s, 2);
  assert.equal(snap.draining, true);
  assert.equal(snap.started, "1970-01-01T00:00:00.000Z");
  assert.deepEqual(snap.pools.map((p) => p.name), ["default", "gpu"]);
  const gpu = snap.pools[1];
  assert.deepEqual([gpu.queued, gpu.idle, gpu.busy], [4, 0, 1]);
  assert.deepEqual(gpu.totals, { waits: 1, responses: 1, errors: 0 });
  assert.equal(gpu.series.length, 1);
  assert.equal(gpu.series[0].waits, 1);
  assert.equal(snap.pools[0].series[0].idle, 2);
  JSON.parse(JSON.stringify(snap));
});

Deno.test("StatusBoard: since gives only the new samples", () => {
  const { src } = source();
  const board = new StatusBoard(src, {}, 0);
  for (let s = 1; s <= 5; s++) board.tick(s * 1000);
  const snap = board.snapshot({ since: 3 });
  assert.deepEqual(snap.pools[0].series.map((x) => x.t), [4, 5]);
});

Deno.test("StatusBoard: two ticks in one second still get distinct times", () => {
  const { src } = source();
  const board = new StatusBoard(src, {}, 0);
  board.tick(10_000);
  board.tick(10_200);
  board.tick(12_000);
  assert.deepEqual(
    board.snapshot().pools[0].series.map((x) => x.t),
    [10, 11, 12],
  );
});

Deno.test("StatusBoard: a removed pool is hidden, and keeps its history if it returns", () => {
  const { pools, src } = source();
  const board = new StatusBoard(src, {}, 0);
  const gpu = board.pool("gpu");
  gpu.recordResponse(200);
  board.tick(1_000);
  const removed = pools.pop()!;
  board.tick(2_000);
  assert.deepEqual(board.snapshot().pools.map((p) => p.name), ["default"]);
  pools.push(removed);
  board.tick(3_000);
  assert.equal(board.pool("gpu"), gpu);
  const back = board.snapshot().pools[1];
  assert.equal(back.totals.responses, 1);
  assert.deepEqual(back.series.map((x) => x.t), [1, 3]);
});
