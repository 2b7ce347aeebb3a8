import assert from "node:assert/strict";
import {
  bucketOf,
  bucketValue,
  quantile,
  WAIT_BUCKETS,
} from "./wait_histogram.ts";

Deno.test("bucketOf: zero, tiny and huge waits stay in range", () => {
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(0.05), 0);
  assert.equal(bucketOf(-1), 0);
  assert.equal(bucketOf(Number.NaN), 0);
  assert.equal(bucketOf(1e12), WAIT_BUCKETS - 1);
  assert.equal(bucketOf(Infinity), WAIT_BUCKETS - 1);
});

Deno.test("bucketValue is within 10 % of every wait in its bucket", () => {
  for (let ms = 0.2; ms < 500_000; ms *= 1.07) {
    const v = bucketValue(bucketOf(ms));
    assert.ok(Math.abs(v - ms) / ms < 0.1, `${ms} read as ${v}`);
  }
});

Deno.test("buckets are monotonic", () => {
  let prev = -1;
  for (let ms = 0; ms < 700_000; ms = ms * 1.3 + 0.01) {
    const b = bucketOf(ms);
    assert.ok(b >= prev);
    prev = b;
  }
});

Deno.test("quantile: p50 and p99 of a known spread", () => {
  const counts = new Uint32Array(WAIT_BUCKETS);
  for (let i = 1; i <= 100; i++) counts[bucketOf(i)]++;
  const p50 = quantile(counts, 100, 0.5)!;
  const p99 = quantile(counts, 100, 0.99)!;
  assert.ok(Math.abs(p50 - 50) / 50 < 0.1, String(p50));
  assert.ok(Math.abs(p99 - 99) / 99 < 0.1, String(p99));
  assert.equal(quantile(counts, 0, 0.5), null);
  assert.equal(quantile(new Uint32Array(WAIT_BUCKETS), 0, 0.99), null);
});

Deno.test("quantile: one wait is every quantile", () => {
  const counts = new Uint32Array(WAIT_BUCKETS);
  counts[bucketOf(250)]++;
  assert.equal(quantile(counts, 1, 0), quantile(counts, 1, 1));
});
