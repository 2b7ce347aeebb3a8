import assert from "node:assert/strict";
import {
  arrivalRatePerMs,
  makeArrivals,
  meanJobMs,
  mulberry32,
  pickSize,
  type WorkloadSpec,
} from "./prng.ts";

const spec: WorkloadSpec = {
  seed: 42,
  durationMs: 60_000,
  servers: 4,
  load: 0.8,
  sizes: [{ ms: 50, weight: 0.9 }, { ms: 500, weight: 0.1 }],
};

Deno.test("mulberry32 is deterministic per seed and in [0,1)", () => {
  const a = mulberry32(7), b = mulberry32(7), c = mulberry32(8);
  const xs = Array.from({ length: 1000 }, a);
  const ys = Array.from({ length: 1000 }, b);
  assert.deepEqual(xs, ys);
  assert(xs.every((x) => x >= 0 && x < 1));
  assert(xs[0] !== c());
  // known first value, so a change of algorithm is noticed
  assert.deepEqual(mulberry32(1)().toFixed(6), "0.627074");
});

Deno.test("the mix and the rate follow the spec", () => {
  assert.deepEqual(meanJobMs(spec.sizes), 95);
  assert.deepEqual(arrivalRatePerMs(spec), 0.8 * 4 / 95);
  assert.deepEqual(pickSize(spec.sizes, 0), 50);
  assert.deepEqual(pickSize(spec.sizes, 0.8999), 50);
  assert.deepEqual(pickSize(spec.sizes, 0.9001), 500);
});

Deno.test("Poisson arrivals are identical for a seed and have the right rate and mix", () => {
  const a = makeArrivals(spec), b = makeArrivals(spec);
  assert.deepEqual(a, b);
  assert(makeArrivals({ ...spec, seed: 43 })[0].atMs !== a[0].atMs);
  const expected = arrivalRatePerMs(spec) * spec.durationMs; // ≈ 2021
  assert(Math.abs(a.length - expected) < 4 * Math.sqrt(expected));
  for (let i = 1; i < a.length; i++) assert(a[i].atMs >= a[i - 1].atMs);
  assert(a[a.length - 1].atMs < spec.durationMs);
  const big = a.filter((x) => x.jobMs === 500).length / a.length;
  assert(big > 0.07 && big < 0.13, `share of 500 ms jobs ${big}`);
  // exponential gaps: coefficient of variation ≈ 1
  const gaps = a.slice(1).map((x, i) => x.atMs - a[i].atMs);
  const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
  const sd = Math.sqrt(
    gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / gaps.length,
  );
  assert(Math.abs(sd / mean - 1) < 0.1, `cv ${sd / mean}`);
});
