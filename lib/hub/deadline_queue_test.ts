import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { DeadlineQueue } from "./deadline_queue.ts";

Deno.test("deadline queue: one timer for many deadlines; what is not done in time expires", () => {
  const clock = new ManualClock();
  const expired: number[] = [];
  const q = new DeadlineQueue<number>(clock, 100, (n) => expired.push(n));
  const all = [];
  for (let i = 0; i < 50; i++) {
    all.push(q.add(i));
    clock.advance(1);
  }
  assert.equal(clock.pending, 1, "one timer, whatever the number of deadlines");
  for (let i = 0; i < 50; i += 2) q.done(all[i]);
  clock.advance(100);
  assert.deepEqual(expired, all.map((_, i) => i).filter((i) => i % 2 === 1));
  assert.ok(all.every((d, i) => d.expired === (i % 2 === 1)));
  assert.equal(q.pending, 0);
  assert.equal(clock.pending, 0, "no timer left once nothing is pending");
});

Deno.test("deadline queue: each deadline expires at its own time", () => {
  const clock = new ManualClock();
  const expired: string[] = [];
  const q = new DeadlineQueue<string>(clock, 100, (s) => expired.push(s));
  q.add("a");
  clock.advance(60);
  q.add("b");
  clock.advance(40);
  assert.deepEqual(expired, ["a"]);
  clock.advance(59);
  assert.deepEqual(expired, ["a"]);
  clock.advance(1);
  assert.deepEqual(expired, ["a", "b"]);
  assert.equal(clock.pending, 0);
});

Deno.test("deadline queue: when all are done the timer is cleared, and done after expiry is harmless", () => {
  const clock = new ManualClock();
  const expired: string[] = [];
  const q = new DeadlineQueue<string>(clock, 100, (s) => expired.push(s));
  const a = q.add("a");
  const b = q.add("b");
  q.done(b);
  assert.equal(q.pending, 2, "b waits behind a");
  q.done(a);
  assert.equal(q.pending, 0);
  assert.equal(clock.pending, 0);
  const c = q.add("c");
  clock.advance(100);
  q.done(c);
  assert.deepEqual(expired, ["c"]);
  assert.equal(c.expired, true);
  assert.equal(clock.pending, 0);
});
