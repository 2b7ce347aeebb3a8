import assert from "node:assert/strict";
import app, { countPrimes } from "./gated_app.ts";
import type { JobInfo } from "../mod.ts";

const signal = new AbortController().signal;

Deno.test("countPrimes: known counts, across segment boundaries", async () => {
  assert.equal(await countPrimes(0, signal), 0);
  assert.equal(await countPrimes(3, signal), 1);
  assert.equal(await countPrimes(100, signal), 25);
  assert.equal(await countPrimes(1_000_000, signal), 78_498);
  assert.equal(await countPrimes(3_000_000, signal), 216_816);
});

Deno.test("countPrimes: stops when aborted", async () => {
  const ac = new AbortController();
  ac.abort(new Error("consumer gone"));
  await assert.rejects(countPrimes(10_000_000, ac.signal), /consumer gone/);
});

Deno.test("gated app: a job releases its reservation when the CPU work starts", async () => {
  const resets: number[] = [];
  const info: JobInfo = {
    consumerAddress: "",
    requestId: "r",
    pool: "default",
    hub: "hub",
    worker: "w/1/0",
    resetReservation: (n) => resets.push(n),
  };
  const ticket = await app.waitForSlot!(signal);
  const res = await app.fetch(
    new Request("http://x/primes?n=1000&input_ms=1"),
    info,
  );
  (ticket as { done?(): void } | void)?.done?.();
  assert.deepEqual(resets, [0]);
  const body = await res.json();
  assert.equal(body.primes, 168);
  const bad = await app.fetch(new Request("http://x/primes?n=-1"), info);
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});
