import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { medianRun, ownJobTimes } from "./scenario_tail.ts";

Deno.test("ownJobTimes uses the app's measured durations and nominal ones where none came back", () => {
  const arrivals = [
    { atMs: 0, jobMs: 50 },
    { atMs: 1, jobMs: 500 },
    { atMs: 2, jobMs: 50 },
    { atMs: 3, jobMs: 50 },
  ];
  const measured = Float64Array.from([51, 502, NaN, 53]);
  const { jobs, meanBySize } = ownJobTimes(arrivals, measured);
  assertEquals(jobs.map((j) => j.serviceMs), [51, 502, 50, 53]);
  assertEquals(jobs.map((j) => j.atMs), [0, 1, 2, 3]);
  assertEquals([...meanBySize], [[50, 52], [500, 502]]);
});

Deno.test("medianRun picks the median round by p99 and carries every round's p99", () => {
  const row = (p99: number) => ({
    name: "pothead",
    simulated: false,
    summary: { n: 1, mean: 0, p50: 0, p90: 0, p99, p999: 0, max: 0 },
    failed: 0,
    errors: [],
    sortedMs: new Float64Array(),
  });
  const m = medianRun([row(1310), row(1290), row(1301)]);
  assertEquals(m.summary.p99, 1301);
  assertEquals(m.roundP99s, [1310, 1290, 1301]);
  // an even count takes the lower middle one
  assertEquals(medianRun([row(5), row(1), row(3), row(9)]).summary.p99, 3);
  // one run stays as it was
  assertEquals(medianRun([row(7)]).roundP99s, undefined);
});
