import { deepStrictEqual } from "node:assert/strict";
import { deadTimes } from "./dead_time.ts";

function times(
  rows: [sent: number, start: number, end: number, pid: number][],
) {
  return {
    sentAt: Float64Array.from(rows, (r) => r[0]),
    startAt: Float64Array.from(rows, (r) => r[1]),
    endAt: Float64Array.from(rows, (r) => r[2]),
    pid: Uint32Array.from(rows, (r) => r[3]),
  };
}

Deno.test("deadTimes counts a slot's gap only while work was waiting", () => {
  const t = times([
    [0, 0.1, 10, 1], // slot 1: job a
    [5, 10.4, 20, 1], // sent at 5, waited: slot 1 idle 0.4 ms after a
    [30, 30.2, 40, 1], // sent after b ended: no backlog, gap not counted
    [1, 1.1, 50, 2], // slot 2: one long job
    [35, 40.9, 45, 1], // sent at 35 while slot 1 busy until 40: gap 0.9
  ]);
  const gaps = deadTimes(t).map((g) => Math.round(g * 10) / 10).sort();
  deepStrictEqual(gaps, [0.4, 0.9]);
});

Deno.test("deadTimes skips requests the app did not report", () => {
  const t = times([
    [0, 0, 10, 1],
    [5, NaN, NaN, 0],
    [6, 10.5, 20, 1],
  ]);
  deepStrictEqual(deadTimes(t).map((g) => Math.round(g * 10) / 10), [0.5]);
});
