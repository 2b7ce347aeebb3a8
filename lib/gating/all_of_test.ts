import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { allOf } from "./all_of.ts";
import { FakeProbes } from "./fake_probes.ts";
import { waitForIdleCpu } from "./idle_cpu.ts";
import { maxConcurrent } from "./max_concurrent.ts";
import { waitForMemory } from "./memory.ts";
import type { Gate } from "./types.ts";
import { admitted, ask, settle as settleRounds } from "./gate_test_util.ts";

/** Lets promise callbacks run: this gate chains several. */
const settle = () => settleRounds(20);

/** A gate that admits at once and logs what its tickets are told. */
function spyGate(name: string, log: string[]): Gate {
  return (signal) => {
    if (signal.aborted) return Promise.reject(signal.reason);
    log.push(`${name}:admit`);
    return Promise.resolve({
      requestReceived: (req: Request) =>
        log.push(`${name}:received ${new URL(req.url).pathname}`),
      done: () => log.push(`${name}:done`),
      resetReservation: (n: number) => log.push(`${name}:reset ${n}`),
    });
  };
}

Deno.test("allOf admits when every gate has, asking them in order", async () => {
  const log: string[] = [];
  const gate = allOf(spyGate("a", log), spyGate("b", log));
  const ticket = await gate(new AbortController().signal);
  ticket.requestReceived?.(new Request("http://x.test/job"));
  ticket.resetReservation?.(0);
  ticket.done?.();
  ticket.done?.();
  ticket.requestReceived?.(new Request("http://x.test/late"));
  assert.deepEqual(log, [
    "a:admit",
    "b:admit",
    "a:received /job",
    "b:received /job",
    "a:reset 0",
    "b:reset 0",
    "a:done",
    "b:done",
  ]);
});

Deno.test("allOf waits for the slowest gate", async () => {
  const clock = new ManualClock();
  const cap = maxConcurrent(1);
  const gate = allOf(
    cap,
    waitForMemory(300, { clock, probes: new FakeProbes({ memory: 1000 }) }),
  );
  const a = ask(gate);
  const b = ask(gate);
  await settle();
  assert.deepEqual([a, b].map(admitted), [true, false]);
  a.ticket!.done?.();
  await settle();
  assert.ok(admitted(b));
  b.ticket!.done?.();
  assert.equal(clock.pending, 0);
});

Deno.test("allOf returns the tickets it got when a later gate is aborted", async () => {
  const clock = new ManualClock();
  const cap = maxConcurrent(2);
  const cpu = waitForIdleCpu(1, { clock, probes: new FakeProbes({ cpus: 1 }) });
  const gate = allOf(cap, cpu);
  const a = ask(gate);
  await settle();
  assert.ok(admitted(a));
  const controller = new AbortController();
  const b = ask(gate, controller.signal);
  await settle();
  // b holds the cap's second place while it waits for CPU.
  const probe = ask(cap);
  await settle();
  assert.equal(admitted(probe), false);
  controller.abort(new Error("shutdown"));
  await settle();
  assert.equal((b.error as Error).message, "shutdown");
  assert.ok(admitted(probe), "b's cap ticket was done");
  assert.equal(clock.pending, 0);
  probe.ticket!.done?.();
  a.ticket!.done?.();
});

Deno.test("allOf returns the tickets it got when a gate fails", async () => {
  const log: string[] = [];
  const failing: Gate = () => Promise.reject(new TypeError("probe broke"));
  const gate = allOf(
    spyGate("a", log),
    spyGate("b", log),
    failing,
    spyGate("c", log),
  );
  await assert.rejects(gate(new AbortController().signal), TypeError);
  assert.deepEqual(log, ["a:admit", "b:admit", "b:done", "a:done"]);
});

Deno.test("allOf stops at once on an aborted signal", async () => {
  const log: string[] = [];
  const controller = new AbortController();
  controller.abort("gone");
  await assert.rejects(
    allOf(spyGate("a", log))(controller.signal),
    (e) => e === "gone",
  );
  await assert.rejects(allOf()(controller.signal), (e) => e === "gone");
  assert.deepEqual(log, []);
});

Deno.test("allOf of no gates admits at once", async () => {
  const ticket = await allOf()(new AbortController().signal);
  ticket.done?.();
});

Deno.test("allOf of the built-in gates maps --gate-cpu/--gate-memory/--max-concurrent", async () => {
  const clock = new ManualClock();
  const probes = new FakeProbes({ cpus: 8, memory: 4096 });
  const gate = allOf(
    maxConcurrent(4),
    waitForMemory(1024, { clock, probes }),
    waitForIdleCpu(1, { clock, probes, rampDelay: 0 }),
  );
  const asked = Array.from({ length: 6 }, () => ask(gate));
  for (let i = 0; i < 20; i++) {
    probes.run(clock, 250, 0);
    await settle();
  }
  // Memory allows 4 (4096 / 1024), the cap 4, CPU 8.
  assert.equal(asked.filter(admitted).length, 4);
  probes.memory = 2048; // now memory is the tightest: 2048 - 3 * 1024 < 1024
  asked[0].ticket!.done?.();
  for (let i = 0; i < 20; i++) {
    probes.run(clock, 250, 0);
    await settle();
  }
  assert.equal(
    asked.filter((p) => admitted(p)).length,
    4,
    "one done, none new",
  );
  for (const p of asked) p.ticket?.done?.();
  await settle();
  for (const p of asked) p.ticket?.done?.();
  assert.equal(clock.pending, 0);
});
