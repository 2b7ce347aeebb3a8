import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { PoolQueue, type QueueTicket } from "./pool_queue.ts";

function setup(maxLength = 1000) {
  const clock = new ManualClock();
  const timedOut: string[] = [];
  const queue = new PoolQueue<string>({
    maxLength,
    clock,
    onTimeout: (value) => timedOut.push(value),
  });
  return { clock, queue, timedOut };
}

function shiftAll(queue: PoolQueue<string>): string[] {
  const out: string[] = [];
  for (let next = queue.shift(); next !== null; next = queue.shift()) {
    out.push(next.value);
  }
  return out;
}

Deno.test("PoolQueue is FIFO in the common case", () => {
  const { queue, clock } = setup();
  for (let i = 0; i < 5; i++) queue.push(`r${i}`, { timeoutMs: 1000 });
  assert.equal(queue.length, 5);
  assert.deepEqual(shiftAll(queue), ["r0", "r1", "r2", "r3", "r4"]);
  assert.equal(queue.length, 0);
  assert.equal(queue.shift(), null);
  // The timer is not cleared per request; it lapses on its own.
  assert.equal(clock.pending, 1);
  clock.advance(1000);
  assert.equal(clock.pending, 0);
});

Deno.test("PoolQueue tickets carry their times, class and key", () => {
  const { queue, clock } = setup();
  clock.advance(500);
  const ticket = queue.push("r", {
    timeoutMs: 1000,
    priority: 3,
    fairnessKey: "t",
  })!;
  assert.equal(ticket.enqueuedAt, 500);
  assert.equal(ticket.deadline, 1500);
  assert.equal(ticket.priority, 3);
  assert.equal(ticket.fairnessKey, "t");
  assert.equal(queue.shift()!.ticket, ticket);
});

Deno.test("PoolQueue refuses pushes when full; front bypasses the limit and goes first", () => {
  const { queue } = setup(2);
  assert.ok(queue.push("a", { timeoutMs: 1000 }));
  assert.ok(queue.push("b", { timeoutMs: 1000 }));
  assert.equal(queue.push("c", { timeoutMs: 1000 }), null);
  assert.equal(queue.length, 2);
  assert.ok(queue.push("back", { timeoutMs: 1000, front: true }));
  assert.equal(queue.length, 3);
  assert.deepEqual(shiftAll(queue), ["back", "a", "b"]);
});

Deno.test("PoolQueue front makes its key the next one served in its class", () => {
  const { queue, clock } = setup();
  queue.push("a1", { fairnessKey: "a", timeoutMs: 1000 });
  queue.push("a2", { fairnessKey: "a", timeoutMs: 1000 });
  queue.push("b1", { fairnessKey: "b", timeoutMs: 1000 });
  clock.advance(10);
  const first = queue.shift()!;
  assert.equal(first.value, "a1");
  // The worker declined it: putting it back undoes the shift.
  queue.push(first.value, {
    fairnessKey: "a",
    timeoutMs: first.ticket.deadline - clock.now(),
    front: true,
  });
  assert.equal(queue.length, 3);
  assert.deepEqual(shiftAll(queue), ["a1", "b1", "a2"]);
});

Deno.test("PoolQueue maxLength changes at once and keeps waiting entries", () => {
  const { queue } = setup(3);
  for (const v of ["a", "b", "c"]) queue.push(v, { timeoutMs: 1000 });
  queue.maxLength = 1;
  assert.equal(queue.maxLength, 1);
  assert.equal(queue.length, 3);
  assert.equal(queue.push("d", { timeoutMs: 1000 }), null);
  queue.shift();
  queue.shift();
  assert.equal(queue.push("d", { timeoutMs: 1000 }), null);
  queue.shift();
  assert.ok(queue.push("d", { timeoutMs: 1000 }));
  queue.maxLength = Infinity;
  for (let i = 0; i < 100; i++) assert.ok(queue.push("x", { timeoutMs: 1 }));
  assert.throws(() => queue.maxLength = -1, RangeError);
  assert.throws(() => queue.maxLength = NaN, RangeError);
});

Deno.test("PoolQueue remove takes an entry out for good", () => {
  const { queue, clock, timedOut } = setup();
  const a = queue.push("a", { timeoutMs: 1000 })!;
  const b = queue.push("b", { timeoutMs: 1000 })!;
  queue.push("c", { timeoutMs: 1000 });
  assert.equal(queue.remove(b), true);
  assert.equal(queue.remove(b), false);
  assert.equal(queue.length, 2);
  assert.deepEqual(shiftAll(queue), ["a", "c"]);
  assert.equal(queue.remove(a), false, "already shifted");
  clock.advance(5000);
  assert.deepEqual(timedOut, []);
  assert.equal(clock.pending, 0);
});

Deno.test("PoolQueue remove refuses foreign and forged tickets", () => {
  const { queue } = setup();
  const other = setup().queue;
  const ticket = other.push("x", { timeoutMs: 1000 })!;
  assert.equal(queue.remove(ticket), false);
  const forged: QueueTicket = {
    enqueuedAt: 0,
    deadline: 1000,
    priority: 0,
    fairnessKey: "",
  };
  assert.equal(other.remove(forged), false);
  assert.equal(other.length, 1);
});

Deno.test("PoolQueue remove of the last entry of a key keeps the rotation", () => {
  const { queue } = setup();
  queue.push("a1", { fairnessKey: "a", timeoutMs: 1000 });
  queue.push("a2", { fairnessKey: "a", timeoutMs: 1000 });
  const b = queue.push("b1", { fairnessKey: "b", timeoutMs: 1000 })!;
  queue.push("c1", { fairnessKey: "c", timeoutMs: 1000 });
  assert.equal(queue.shift()!.value, "a1"); // cursor now on b
  assert.ok(queue.remove(b)); // b leaves: c is next
  assert.deepEqual(shiftAll(queue), ["c1", "a2"]);
});

Deno.test("PoolQueue times out entries in deadline order, exactly once", () => {
  const { queue, clock, timedOut } = setup();
  queue.push("a", { timeoutMs: 1000 });
  clock.advance(100);
  queue.push("b", { timeoutMs: 1000 });
  queue.push("c", { timeoutMs: 1000 });
  clock.advance(899);
  assert.deepEqual(timedOut, []);
  clock.advance(1);
  assert.deepEqual(timedOut, ["a"]);
  assert.equal(queue.length, 2);
  clock.advance(100);
  assert.deepEqual(timedOut, ["a", "b", "c"]);
  assert.equal(queue.length, 0);
  clock.advance(10_000);
  assert.deepEqual(timedOut, ["a", "b", "c"]);
  assert.equal(clock.pending, 0);
});

Deno.test("PoolQueue hands onTimeout the ticket after the entry left", () => {
  const clock = new ManualClock();
  const seen: Array<{ value: string; ticket: QueueTicket; length: number }> =
    [];
  const queue: PoolQueue<string> = new PoolQueue<string>({
    maxLength: 10,
    clock,
    onTimeout: (value, ticket) =>
      seen.push({ value, ticket, length: queue.length }),
  });
  const ticket = queue.push("a", { timeoutMs: 50 })!;
  clock.advance(50);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].ticket, ticket);
  assert.equal(seen[0].length, 0);
  assert.equal(queue.remove(ticket), false);
});

Deno.test("PoolQueue never times out an entry shifted before its deadline", () => {
  const { queue, clock, timedOut } = setup();
  queue.push("a", { timeoutMs: 1000 });
  queue.push("b", { timeoutMs: 1000 });
  clock.advance(999);
  assert.equal(queue.shift()!.value, "a");
  clock.advance(1);
  assert.deepEqual(timedOut, ["b"]);
  clock.advance(5000);
  assert.deepEqual(timedOut, ["b"]);
});

Deno.test("PoolQueue keeps at most one timer, with mixed timeouts", () => {
  const { queue, clock, timedOut } = setup();
  const timeouts = [500, 100, 900, 100, 300, 700, 50, 1000, 200, 100];
  for (let i = 0; i < timeouts.length; i++) {
    queue.push(`t${timeouts[i]}#${i}`, { timeoutMs: timeouts[i] });
    assert.ok(clock.pending <= 1);
  }
  assert.equal(clock.pending, 1);
  for (let t = 0; t < 1100; t += 10) {
    clock.advance(10);
    assert.ok(clock.pending <= 1);
  }
  assert.deepEqual(timedOut, [
    "t50#6",
    "t100#1",
    "t100#3",
    "t100#9",
    "t200#8",
    "t300#4",
    "t500#0",
    "t700#5",
    "t900#2",
    "t1000#7",
  ]);
  assert.equal(clock.pending, 0);
});

Deno.test("PoolQueue timer follows removals lazily and never fires early or late", () => {
  const { queue, clock, timedOut } = setup();
  const tickets = [];
  for (let i = 0; i < 100; i++) {
    tickets.push(queue.push(`r${i}`, { timeoutMs: 1000 })!);
    clock.advance(5);
  }
  // Shift the first 50 at t=500: the deadlines left start at 1250.
  for (let i = 0; i < 50; i++) queue.shift();
  assert.equal(clock.pending, 1);
  clock.advance(749); // t = 1249
  assert.deepEqual(timedOut, []);
  clock.advance(1); // t = 1250
  assert.deepEqual(timedOut, ["r50"]);
  queue.remove(tickets[51]);
  clock.advance(15); // t = 1265: r52 (1260) and r53 (1265) are due
  assert.deepEqual(timedOut, ["r50", "r52", "r53"]);
  assert.ok(clock.pending <= 1);
  assert.equal(queue.drain().length, 46);
  assert.equal(clock.pending, 0);
});

Deno.test("PoolQueue serves higher priority classes first, FIFO within a class", () => {
  const { queue } = setup();
  queue.push("low1", { priority: -5, timeoutMs: 1000 });
  queue.push("mid1", { timeoutMs: 1000 });
  queue.push("high1", { priority: 10, timeoutMs: 1000 });
  queue.push("mid2", { priority: 0, timeoutMs: 1000 });
  queue.push("high2", { priority: 10, timeoutMs: 1000 });
  queue.push("low2", { priority: -5, timeoutMs: 1000 });
  queue.push("top", { priority: 100, timeoutMs: 1000 });
  assert.deepEqual(shiftAll(queue), [
    "top",
    "high1",
    "high2",
    "mid1",
    "mid2",
    "low1",
    "low2",
  ]);
});

Deno.test("PoolQueue priority order under a loaded pool", () => {
  const { queue } = setup(10_000);
  for (let i = 0; i < 1000; i++) {
    queue.push(`bulk${i}`, { priority: -1, timeoutMs: 60_000 });
  }
  queue.push("interactive", { priority: 5, timeoutMs: 60_000 });
  assert.equal(queue.shift()!.value, "interactive");
  assert.equal(queue.shift()!.value, "bulk0");
});

Deno.test("PoolQueue fairness bound: a single request waits behind at most one job", () => {
  const { queue } = setup(10_000);
  for (let i = 0; i < 1000; i++) {
    queue.push(`A${i}`, { fairnessKey: "A", timeoutMs: 60_000 });
  }
  queue.push("B0", { fairnessKey: "B", timeoutMs: 60_000 });
  const first = [queue.shift()!.value, queue.shift()!.value];
  assert.ok(first.includes("B0"), first.join());
  assert.equal(queue.length, 999);
});

Deno.test("PoolQueue fairness: keys take turns, new keys join at the end of the round", () => {
  const { queue } = setup();
  for (let i = 0; i < 3; i++) {
    queue.push(`A${i}`, { fairnessKey: "A", timeoutMs: 1000 });
    queue.push(`B${i}`, { fairnessKey: "B", timeoutMs: 1000 });
  }
  assert.equal(queue.shift()!.value, "A0");
  // Like a new flow in deficit round robin, C joins behind every key that
  // is waiting: B (whose turn is next), then A (which just had its turn).
  queue.push("C0", { fairnessKey: "C", timeoutMs: 1000 });
  assert.deepEqual(shiftAll(queue), ["B0", "A1", "C0", "B1", "A2", "B2"]);
});

Deno.test("PoolQueue fairness is per class", () => {
  const { queue } = setup();
  queue.push("A-low", { fairnessKey: "A", priority: 0, timeoutMs: 1000 });
  queue.push("A-high1", { fairnessKey: "A", priority: 1, timeoutMs: 1000 });
  queue.push("A-high2", { fairnessKey: "A", priority: 1, timeoutMs: 1000 });
  queue.push("B-high", { fairnessKey: "B", priority: 1, timeoutMs: 1000 });
  assert.deepEqual(shiftAll(queue), ["A-high1", "B-high", "A-high2", "A-low"]);
});

Deno.test("PoolQueue holds a request's timeout whatever its class", () => {
  const { queue, clock, timedOut } = setup();
  queue.push("low", { priority: -100, timeoutMs: 1000 });
  for (let t = 0; t < 2000; t += 100) {
    // A steady stream of high-priority work keeps the worker busy.
    queue.push(`high${t}`, { priority: 100, timeoutMs: 5000 });
    queue.shift();
    clock.advance(100);
  }
  assert.deepEqual(timedOut, ["low"]);
  assert.equal(queue.length, 0);
});

Deno.test("PoolQueue onTimeout may push, shift and remove", () => {
  const clock = new ManualClock();
  const log: string[] = [];
  const queue: PoolQueue<string> = new PoolQueue<string>({
    maxLength: 10,
    clock,
    onTimeout: (value) => {
      log.push(`timeout ${value}`);
      if (value === "a") {
        queue.push("retry", { timeoutMs: 100 });
        log.push(`shift ${queue.shift()?.value}`);
      }
    },
  });
  queue.push("a", { timeoutMs: 100 });
  queue.push("b", { timeoutMs: 100 });
  queue.push("c", { timeoutMs: 150 });
  clock.advance(100);
  assert.deepEqual(log, ["timeout a", "shift b"]);
  assert.equal(clock.pending, 1);
  clock.advance(100);
  assert.deepEqual(log, ["timeout a", "shift b", "timeout c", "timeout retry"]);
  assert.equal(clock.pending, 0);
});

Deno.test("PoolQueue Infinity timeout never fires; zero fires on the next timer run", () => {
  const { queue, clock, timedOut } = setup();
  queue.push("forever", { timeoutMs: Infinity });
  assert.equal(clock.pending, 0);
  queue.push("now", { timeoutMs: 0 });
  assert.equal(clock.pending, 1);
  clock.advance(0);
  assert.deepEqual(timedOut, ["now"]);
  clock.advance(1e9);
  assert.deepEqual(timedOut, ["now"]);
  assert.equal(queue.length, 1);
});

Deno.test("PoolQueue rejects bad numbers", () => {
  const { queue } = setup();
  assert.throws(() => queue.push("x", { timeoutMs: NaN }), RangeError);
  assert.throws(
    () => queue.push("x", { timeoutMs: 1, priority: NaN }),
    RangeError,
  );
  assert.equal(queue.length, 0);
  assert.throws(
    () => new PoolQueue({ maxLength: -1, onTimeout: () => {} }),
    RangeError,
  );
});

Deno.test("PoolQueue drain returns everything in service order and stops the timer", () => {
  const { queue, clock, timedOut } = setup();
  queue.push("a1", { fairnessKey: "a", timeoutMs: 1000 });
  queue.push("a2", { fairnessKey: "a", timeoutMs: 1000 });
  const b = queue.push("b1", { fairnessKey: "b", timeoutMs: 1000 })!;
  queue.push("hi", { priority: 1, timeoutMs: 1000 });
  assert.equal(clock.pending, 1);
  assert.deepEqual(queue.drain(), ["hi", "a1", "b1", "a2"]);
  assert.equal(queue.length, 0);
  assert.equal(clock.pending, 0);
  assert.equal(queue.remove(b), false);
  clock.advance(5000);
  assert.deepEqual(timedOut, []);
  // The queue is usable again after a drain.
  queue.push("again", { timeoutMs: 10 });
  clock.advance(10);
  assert.deepEqual(timedOut, ["again"]);
});

Deno.test("PoolQueue stays consistent under a random mix of operations", () => {
  // A reference model: a plain array scanned in service order.
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const { queue, clock, timedOut } = setup(200);
  const live = new Map<string, QueueTicket>();
  const timeoutsSeen = new Set<string>();
  let n = 0;
  for (let step = 0; step < 20_000; step++) {
    const r = random();
    if (r < 0.45) {
      const name = `v${n++}`;
      const ticket = queue.push(name, {
        priority: Math.floor(random() * 3),
        fairnessKey: `k${Math.floor(random() * 4)}`,
        timeoutMs: random() < 0.9 ? 500 : Math.floor(random() * 1000),
        front: random() < 0.05,
      });
      if (ticket) live.set(name, ticket);
    } else if (r < 0.7) {
      const next = queue.shift();
      if (next) {
        assert.ok(live.delete(next.value), `shifted ${next.value} twice`);
        // Nothing in a higher class may be waiting.
        for (const t of live.values()) {
          assert.ok(t.priority <= next.ticket.priority);
        }
      }
    } else if (r < 0.8) {
      const names = [...live.keys()];
      if (names.length > 0) {
        const name = names[Math.floor(random() * names.length)];
        assert.ok(queue.remove(live.get(name)!));
        live.delete(name);
      }
    } else {
      clock.advance(Math.floor(random() * 50));
      for (const name of timedOut.splice(0)) {
        assert.ok(!timeoutsSeen.has(name), `${name} timed out twice`);
        timeoutsSeen.add(name);
        const ticket = live.get(name);
        assert.ok(ticket, `${name} timed out but was not waiting`);
        assert.ok(ticket.deadline <= clock.now());
        live.delete(name);
      }
      for (const t of live.values()) assert.ok(t.deadline > clock.now());
    }
    assert.equal(queue.length, live.size);
    assert.ok(clock.pending <= 1);
    if (live.size > 0) assert.equal(clock.pending, 1);
  }
});

Deno.test("PoolQueue timer is never late after the queue empties and refills", () => {
  const { queue, clock, timedOut } = setup();
  queue.push("a", { timeoutMs: 1000 });
  clock.advance(10);
  queue.shift(); // empty; the timer for t=1000 stays
  clock.advance(490);
  queue.push("b", { timeoutMs: 1000 }); // due at 1500
  queue.push("c", { timeoutMs: 100 }); // due at 600: earlier, so re-armed
  assert.equal(clock.pending, 1);
  clock.advance(99);
  assert.deepEqual(timedOut, []);
  clock.advance(1);
  assert.deepEqual(timedOut, ["c"]);
  clock.advance(899);
  assert.deepEqual(timedOut, ["c"]);
  clock.advance(1);
  assert.deepEqual(timedOut, ["c", "b"]);
  assert.equal(clock.pending, 0);
});

Deno.test("PoolQueue with the system clock leaves no timer after drain", () => {
  // Deno's sanitizers fail this test if a timer outlives it.
  const queue = new PoolQueue<string>({
    maxLength: 10,
    onTimeout: () => {
      throw new Error("must not time out");
    },
  });
  queue.push("a", { timeoutMs: 60_000 });
  assert.equal(queue.shift()!.value, "a");
  queue.push("b", { timeoutMs: 30_000 });
  assert.deepEqual(queue.drain(), ["b"]);
});
