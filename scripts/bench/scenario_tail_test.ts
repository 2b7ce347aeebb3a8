import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { ownJobTimes } from "./scenario_tail.ts";

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
