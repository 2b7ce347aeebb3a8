import assert from "node:assert/strict";
import { maxConcurrent } from "../gating/max_concurrent.ts";
import type { Gate, SlotTicket } from "../gating/types.ts";
import { GrantBroker, ParentLink } from "./grant_ipc.ts";

/** A parent serving `gate` on a fresh Unix socket, and links to it. */
async function setup(gate: Gate | null) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/control.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const served: Promise<void>[] = [];
  const hellos: [number, number][] = [];
  const broker = new GrantBroker({
    gate,
    onHello: (i, pid) => hellos.push([i, pid]),
  });
  const accepting = (async () => {
    for (;;) {
      let conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      served.push(broker.serve(conn));
    }
  })();
  const links: ParentLink[] = [];
  return {
    hellos,
    served,
    async link() {
      const l = await ParentLink.connect(path);
      links.push(l);
      return l;
    },
    async [Symbol.asyncDispose]() {
      for (const l of links) await l.close();
      listener.close();
      await accepting;
      await Promise.all(served);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Resolves once every pending message round trip has had its chance. */
const settle = () => new Promise((r) => setTimeout(r, 50));

/** A gate that records the tickets' calls. */
function recordingGate(inner: Gate) {
  const calls: string[] = [];
  const gate: Gate = async (signal) => {
    const t = await inner(signal);
    const n = calls.filter((c) => c === "grant").length;
    calls.push("grant");
    return {
      requestReceived(req) {
        calls.push(
          `received ${n} ${req.method} ${req.url} ${req.headers.get("x-a")}`,
        );
        t.requestReceived?.(req);
      },
      resetReservation(cpus) {
        calls.push(`reset ${n} ${cpus}`);
      },
      done() {
        calls.push(`done ${n}`);
        t.done?.();
      },
    } satisfies SlotTicket;
  };
  return { gate, calls };
}

Deno.test("grants: the parent's gate admits across children", async () => {
  await using p = await setup(maxConcurrent(2));
  const a = await p.link();
  const b = await p.link();
  a.hello(0);
  b.hello(1);
  const signal = new AbortController().signal;
  const t1 = await a.gate(signal);
  const t2 = await b.gate(signal);
  let third = false;
  const t3 = b.gate(signal).then((t) => {
    third = true;
    return t;
  });
  await settle();
  assert.equal(third, false, "a third pull for the host");
  t1.done?.();
  (await t3).done?.();
  t2.done?.();
  assert.deepEqual(p.hellos.map(([i]) => i).sort(), [0, 1]);
  assert.equal(p.hellos[0][1], Deno.pid);
});

Deno.test("grants: requestReceived, resetReservation and done reach the parent's ticket", async () => {
  const { gate, calls } = recordingGate(maxConcurrent(5));
  await using p = await setup(gate);
  const link = await p.link();
  const t = await link.gate(new AbortController().signal);
  t.requestReceived?.(
    new Request("http://h/p?q=1", {
      method: "POST",
      headers: { "x-a": "b" },
      body: "ignored",
    }),
  );
  t.resetReservation?.(0.5);
  t.done?.();
  t.done?.();
  t.resetReservation?.(1);
  await settle();
  assert.deepEqual(calls, [
    "grant",
    "received 0 POST http://h/p?q=1 b",
    "reset 0 0.5",
    "done 0",
  ]);
});

Deno.test("grants: an aborted wait is cancelled at the parent", async () => {
  const gate = maxConcurrent(1);
  await using p = await setup(gate);
  const link = await p.link();
  const first = await link.gate(new AbortController().signal);
  const ac = new AbortController();
  const waiting = link.gate(ac.signal);
  await settle();
  ac.abort(new Error("shutting down"));
  await assert.rejects(waiting, /shutting down/);
  await settle();
  first.done?.();
  // The cancelled wait did not take the freed capacity.
  const next = await link.gate(new AbortController().signal);
  next.done?.();
});

Deno.test("grants: a child that goes away releases what it held", async () => {
  const gate = maxConcurrent(1);
  await using p = await setup(gate);
  const dying = await p.link();
  await dying.gate(new AbortController().signal); // never done
  const pending = dying.gate(new AbortController().signal);
  await dying.close();
  await assert.rejects(pending, /parent process is gone/);
  const other = await p.link();
  const t = await other.gate(new AbortController().signal);
  t.done?.();
});

Deno.test("grants: a parent without a gate denies pulls", async () => {
  await using p = await setup(null);
  const link = await p.link();
  await assert.rejects(
    link.gate(new AbortController().signal),
    /does not poll/,
  );
});

Deno.test("grants: the child learns that the parent is gone", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/control.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  try {
    const link = await ParentLink.connect(path);
    const conn = await listener.accept();
    const pending = link.gate(new AbortController().signal);
    conn.close();
    await link.closed;
    await assert.rejects(pending, /gone/);
    await assert.rejects(link.gate(new AbortController().signal), /gone/);
    await link.close();
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A gate that admits only when told to. */
function manualGate() {
  const pending: ((t: SlotTicket) => void)[] = [];
  const gate: Gate = (signal) =>
    new Promise((resolve, reject) => {
      pending.push(resolve);
      signal.addEventListener("abort", () => {
        const i = pending.indexOf(resolve);
        if (i >= 0) pending.splice(i, 1);
        reject(signal.reason);
      }, { once: true });
    });
  return {
    gate,
    get waiters() {
      return pending.length;
    },
    admit() {
      pending.shift()!({});
    },
  };
}

Deno.test("grants: an admission goes to the waiting child with the fewest jobs", async () => {
  const m = manualGate();
  await using p = await setup(m.gate);
  const a = await p.link();
  const b = await p.link();
  const signal = new AbortController().signal;
  const first = a.gate(signal);
  await settle();
  m.admit();
  await first; // a runs one job
  let aGot = false;
  let bGot = false;
  const a2 = a.gate(signal).then((t) => (aGot = true, t));
  await settle();
  const b1 = b.gate(signal).then((t) => (bGot = true, t));
  await settle();
  assert.equal(m.waiters, 1, "one wait on the gate for the whole host");
  m.admit();
  await b1;
  await settle();
  assert.equal(
    aGot,
    false,
    "the child with a job waits, though it asked first",
  );
  assert.equal(bGot, true);
  m.admit();
  await a2;
});

Deno.test("grants: no wait on the gate once every want is cancelled", async () => {
  const m = manualGate();
  await using p = await setup(m.gate);
  const link = await p.link();
  const ac = new AbortController();
  const w = link.gate(ac.signal);
  await settle();
  assert.equal(m.waiters, 1);
  ac.abort(new Error("stop"));
  await assert.rejects(w, /stop/);
  await settle();
  assert.equal(m.waiters, 0);
});
