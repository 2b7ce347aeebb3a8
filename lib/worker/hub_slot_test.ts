import assert from "node:assert/strict";
import type { HubAddress } from "./hub_addresses.ts";
import { HubSlot, type SlotLeg } from "./hub_slot.ts";

const A: HubAddress = { name: "hubs", ip: "10.0.0.1", port: 4040 };
const B: HubAddress = { name: "hubs", ip: "10.0.0.2", port: 4040 };

/** A served leg the test controls: `end()` ends its connection. */
interface Served {
  leg: SlotLeg;
  end(): void;
}

/** Legs connect at once and stay idle until the test ends them. */
function harness(addresses: () => HubAddress[], oneJob = false) {
  const served: Served[] = [];
  const waiters: (() => void)[] = [];
  const stop = new AbortController();
  const dialed: boolean[] = [];
  const slot = new HubSlot({
    index: 0,
    name: "host/1/0",
    addresses,
    oneJob,
    signal: stop.signal,
    backoffCapMs: 10,
    onDialed: (ok) => dialed.push(ok),
    serve: (leg, settled) =>
      new Promise<boolean>((resolve) => {
        const end = () => {
          leg.idle = false;
          resolve(true);
        };
        // A connection whose close() ends it, as a socket's would.
        leg.conn = { close: end } as unknown as Deno.Conn;
        leg.idle = true;
        settled(true);
        served.push({ leg, end });
        for (const w of waiters.splice(0)) w();
      }),
  });
  const until = async (pred: () => boolean) => {
    for (let i = 0; i < 200 && !pred(); i++) {
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 5);
      });
    }
    assert.ok(pred(), "condition not reached");
  };
  return { slot, served, stop, dialed, until };
}

Deno.test("HubSlot: one leg per address; a busy slot declines the other leg's job", async () => {
  const h = harness(() => [A, B]);
  const done = h.slot.run();
  await h.until(() => h.served.length === 2);
  const [a, b] = h.served.map((s) => s.leg);
  assert.deepEqual([a.addr.ip, b.addr.ip], ["10.0.0.1", "10.0.0.2"]);
  assert.equal(a.name, b.name);
  assert.ok(a.claim());
  assert.ok(h.slot.busy);
  assert.equal(b.claim(), false);
  a.release();
  assert.ok(b.claim());
  b.release();
  h.stop.abort();
  await done;
});

Deno.test("HubSlot: a leg whose connection ended dials again only once the slot is free", async () => {
  const h = harness(() => [A, B]);
  const done = h.slot.run();
  await h.until(() => h.served.length === 2);
  const [a, b] = h.served;
  assert.ok(a.leg.claim());
  b.end(); // the hub closed it, or it declined and closed
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(h.served.length, 2, "redialed while the slot was busy");
  a.leg.release();
  await h.until(() => h.served.length === 3);
  assert.equal(h.served[2].leg.addr.ip, "10.0.0.2");
  h.stop.abort();
  await done;
});

Deno.test("HubSlot: follows the addresses: new ones get a leg, gone ones end", async () => {
  let addrs = [A];
  const h = harness(() => addrs);
  const done = h.slot.run();
  await h.until(() => h.served.length === 1);
  addrs = [B];
  h.slot.sync();
  await h.until(() => h.served.length === 2);
  assert.ok(h.served[0].leg.retired);
  assert.equal(h.served[1].leg.addr.ip, "10.0.0.2");
  await h.until(() => [...h.slot.legs()].length === 1);
  assert.deepEqual([...h.slot.legs()].map((l) => l.addr.ip), ["10.0.0.2"]);
  // Back again: a new leg.
  addrs = [A, B];
  h.slot.sync();
  await h.until(() => h.served.length === 3);
  assert.equal(h.served[2].leg.addr.ip, "10.0.0.1");
  h.stop.abort();
  await done;
});

Deno.test("HubSlot oneJob: the first job closes the other legs; the slot ends after it", async () => {
  const h = harness(() => [A, B], true);
  const done = h.slot.run();
  await h.until(() => h.served.length === 2);
  assert.deepEqual(h.dialed, [true]);
  const [a, b] = h.served;
  assert.ok(b.leg.claim());
  assert.ok(a.leg.retired, "the other leg is retired");
  assert.equal(a.leg.claim(), false);
  // The job ends; its connection closes after one job.
  b.leg.release();
  b.end();
  await done;
  assert.equal(h.served.length, 2, "nothing dialed after the job");
});

Deno.test("HubSlot oneJob: no address to dial gives the admission back", async () => {
  const h = harness(() => [], true);
  await h.slot.run();
  assert.deepEqual(h.dialed, [false]);
});

Deno.test("HubSlot oneJob: every first dial failing ends the offer", async () => {
  const stop = new AbortController();
  const dialed: boolean[] = [];
  let dials = 0;
  const slot = new HubSlot({
    index: 0,
    name: "host/1/0",
    addresses: () => [A, B],
    oneJob: true,
    signal: stop.signal,
    backoffCapMs: 10,
    onDialed: (ok) => dialed.push(ok),
    serve: (_leg, settled) => {
      dials++;
      settled(false);
      return Promise.resolve(false);
    },
  });
  await slot.run();
  assert.deepEqual(dialed, [false]);
  assert.equal(dials, 2);
});
