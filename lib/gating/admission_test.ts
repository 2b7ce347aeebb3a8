import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { admissionGate, type AdmittedJob } from "./admission.ts";
import { admitted, ask, settle } from "./gate_test_util.ts";

Deno.test("admissionGate never consults hasRoom when no job runs", async () => {
  let asked = 0;
  const gate = admissionGate({
    hasRoom: () => {
      asked++;
      return false;
    },
  });
  const a = ask(gate);
  await settle();
  assert.ok(admitted(a));
  assert.equal(asked, 0);
  a.ticket!.done?.();
});

Deno.test("admissionGate samples only while someone waits, keeping its cadence", async () => {
  const clock = new ManualClock();
  const times: number[] = [];
  let room = false;
  const gate = admissionGate({
    clock,
    sampleInterval: 100,
    sample: () => times.push(clock.now()),
    hasRoom: () => room,
  });
  const a = ask(gate);
  await settle();
  assert.deepEqual(times, [], "admitted without waiting: no sample");
  const b = ask(gate);
  clock.advance(250);
  assert.deepEqual(times, [0, 100, 200]);
  room = true;
  clock.advance(50);
  await settle();
  assert.ok(admitted(b));
  assert.equal(clock.pending, 0);
  room = false;
  clock.advance(20); // t = 320: the next sample is due at 400, not now
  const c = ask(gate);
  assert.deepEqual(times, [0, 100, 200, 300]);
  clock.advance(80);
  assert.deepEqual(times, [0, 100, 200, 300, 400]);
  clock.advance(1000); // long pause while c waits; samples continue
  assert.equal(times.length, 15);
  const controller = new AbortController();
  const d = ask(gate, controller.signal);
  controller.abort();
  await settle();
  assert.ok(d.error instanceof DOMException);
  assert.ok(clock.pending > 0, "c still waits");
  room = true; // re-checked on done(), not at the next sample
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(c));
  assert.equal(clock.pending, 0);
  b.ticket!.done?.();
  c.ticket!.done?.();
});

Deno.test("admissionGate survives a throwing sampler", async () => {
  const clock = new ManualClock();
  let room = false;
  const gate = admissionGate({
    clock,
    sampleInterval: 10,
    sample: () => {
      throw new Error("flaky probe");
    },
    hasRoom: () => room,
  });
  const a = ask(gate);
  const b = ask(gate);
  clock.advance(100);
  room = true;
  clock.advance(10);
  await settle();
  assert.ok(admitted(b));
  assert.equal(b.error, undefined);
  a.ticket!.done?.();
  b.ticket!.done?.();
});

Deno.test("admissionGate passes running jobs with their reservations to hasRoom", async () => {
  const clock = new ManualClock(100);
  let seen: AdmittedJob[] = [];
  const gate = admissionGate({
    clock,
    reservation: 2,
    resettable: true,
    hasRoom: (jobs) => {
      seen = [...jobs];
      return false;
    },
  });
  const a = ask(gate);
  await settle();
  clock.advance(5);
  a.ticket!.requestReceived?.(new Request("http://x.test/"));
  a.ticket!.requestReceived?.(new Request("http://x.test/"));
  const b = ask(gate);
  assert.deepEqual(seen, [{
    admittedAt: 100,
    receivedAt: 105,
    resetAt: undefined,
    endedAt: undefined,
    reserved: 2,
  }]);
  clock.advance(5);
  a.ticket!.resetReservation?.(-3);
  assert.equal(seen[0].reserved, 0);
  assert.equal(seen[0].resetAt, 110);
  clock.advance(5);
  a.ticket!.resetReservation?.(0.5);
  assert.equal(seen[0].reserved, 0.5);
  assert.equal(seen[0].resetAt, 110, "the first reset");
  const job = seen[0];
  a.ticket!.done?.();
  assert.equal(job.endedAt, 115);
  await settle();
  assert.ok(admitted(b));
  b.ticket!.done?.();
  assert.equal(b.ticket!.resetReservation !== undefined, true);
  const plain = await admissionGate()(new AbortController().signal);
  assert.equal(plain.resetReservation, undefined);
});

Deno.test("admissionGate re-checks when a request arrives", async () => {
  let room = false;
  const gate = admissionGate({
    hasRoom: (jobs) =>
      room && [...jobs].every((j) => j.receivedAt !== undefined),
  });
  const a = ask(gate);
  await settle();
  room = true;
  const b = ask(gate);
  await settle();
  assert.equal(admitted(b), false, "a not running yet");
  a.ticket!.requestReceived?.(new Request("http://x.test/"));
  await settle();
  assert.ok(admitted(b));
  a.ticket!.done?.();
  b.ticket!.done?.();
});

Deno.test("admissionGate refillWithoutRamp: a job done lets one waiter skip the ramp; onDone sees it first", async () => {
  for (const refillWithoutRamp of [false, true]) {
    const clock = new ManualClock();
    const log: string[] = [];
    const gate = admissionGate({
      clock,
      rampDelay: 1000,
      refillWithoutRamp,
      onDone: (job) => log.push(`done ${job.admittedAt}-${job.endedAt}`),
    });
    const a = ask(gate);
    const b = ask(gate);
    await settle();
    clock.advance(1000);
    await settle();
    assert.ok(admitted(b));
    const c = ask(gate);
    const d = ask(gate);
    clock.advance(100);
    a.ticket!.done?.();
    await settle();
    assert.deepEqual(log, ["done 0-1100"]);
    assert.equal(admitted(c), refillWithoutRamp, "c replaces a");
    assert.equal(admitted(d), false);
    clock.advance(900);
    await settle();
    assert.ok(admitted(c));
    assert.equal(admitted(d), refillWithoutRamp, "ramp from b (or c)");
    clock.advance(1000);
    await settle();
    assert.ok(admitted(d));
    for (const p of [b, c, d]) p.ticket!.done?.();
    assert.equal(clock.pending, 0);
  }
});

Deno.test("admissionGate rejects negative timings", () => {
  assert.throws(() => admissionGate({ rampDelay: -1 }), RangeError);
  assert.throws(() => admissionGate({ sampleInterval: NaN }), RangeError);
});
