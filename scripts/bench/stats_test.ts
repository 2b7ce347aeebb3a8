import assert from "node:assert/strict";
import { curvePercentiles, percentile, sorted, summarize } from "./stats.ts";

Deno.test("nearest-rank percentiles on a hand-computed case", () => {
  const s = sorted([15, 20, 35, 40, 50]);
  assert.deepEqual(percentile(s, 5), 15);
  assert.deepEqual(percentile(s, 30), 20);
  assert.deepEqual(percentile(s, 40), 20);
  assert.deepEqual(percentile(s, 50), 35);
  assert.deepEqual(percentile(s, 100), 50);
  assert.deepEqual(percentile(s, 0), 15);
  assert(Number.isNaN(percentile(sorted([]), 50)));
});

Deno.test("p99 and p99.9 of 1..1000", () => {
  const xs = Array.from({ length: 1000 }, (_, i) => 1000 - i);
  const sum = summarize(xs);
  assert.deepEqual(sum.n, 1000);
  assert.deepEqual(sum.p50, 500);
  assert.deepEqual(sum.p90, 900);
  assert.deepEqual(sum.p99, 990);
  assert.deepEqual(sum.p999, 999);
  assert.deepEqual(sum.max, 1000);
  assert.deepEqual(sum.mean, 500.5);
});

Deno.test("sorted is numeric, not lexicographic", () => {
  assert.deepEqual([...sorted([10, 9, 100, 1])], [1, 9, 10, 100]);
});

Deno.test("chart percentiles run from p50 to p99.9", () => {
  const ps = curvePercentiles();
  assert(Math.abs(ps[0] - 50) < 1e-9);
  assert(Math.abs(ps[ps.length - 1] - 99.9) < 1e-9);
});
