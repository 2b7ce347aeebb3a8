/**
 * Many hubs (issue 7): a worker given two hubs serves both; a request queued
 * at one hub never waits while the worker's slot is free but connected only
 * to the other; a job that a hub sends to a slot busy with the other hub's
 * job is declined and queued again at the front (not a failure, not a
 * re-dispatch); no request runs twice.
 *
 * Held jobs end when the test creates a file, never after a guessed
 * duration; every wait is bounded.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type HubProc, startHub, startWorker, until } from "./processes.ts";
import { scrapeMetrics } from "./prom_text.ts";
import { startInprocHub } from "./inproc_hub.ts";
import { runWorker } from "../lib/worker/run_worker.ts";
import { Logger } from "../lib/log/logger.ts";

const APP = "tests/fixtures/many_hubs_app.ts";

interface Job {
  id: string;
  path: string;
  running: number;
}

async function jobs(record: string): Promise<Job[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(record);
  } catch { /* nothing yet */ }
  return text.split("\n").filter((l) => l !== "").map((l) => {
    const [id, path, running] = l.split(" ");
    return { id, path, running: Number(running) };
  });
}

function assertEachOnceAndAlone(all: Job[], ids: string[]): void {
  const counts = new Map<string, number>();
  for (const j of all) counts.set(j.id, (counts.get(j.id) ?? 0) + 1);
  for (const id of ids) {
    assert.equal(
      counts.get(id),
      1,
      `request ${id} ran ${counts.get(id)} times`,
    );
  }
  assert.equal(all.length, ids.length, "a job the test did not send ran");
  for (const j of all) {
    assert.equal(j.running, 1, `a one-slot worker ran two jobs at once`);
  }
}

async function get(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; text: string; id: string }> {
  const res = await fetch(url, {
    ...init,
    signal: AbortSignal.timeout(20_000),
  });
  return {
    status: res.status,
    text: await res.text(),
    id: res.headers.get("x-request-id") ?? "",
  };
}

/** Samples of a hub series for pool `default`, 0 when absent. */
async function poolCounter(hub: HubProc, name: string): Promise<number> {
  const m = await scrapeMetrics(hub.metricsUrl);
  return m.samples
    .filter((x) => x.name === name && x.labels.pool === "default")
    .reduce((n, x) => n + x.value, 0);
}

async function twoHubsOneSlot(record: string) {
  const a = await startHub();
  const b = await startHub().catch(async (err) => {
    await a.stop();
    throw err;
  });
  const worker = await startWorker(
    a.workerAddr,
    ["--connect", b.workerAddr, "--workers", "1", APP],
    2, // one slot, one connection to each hub
    { POTHEAD_TEST_RECORD: record },
  ).catch(async (err) => {
    await a.stop();
    await b.stop();
    throw err;
  });
  return {
    a,
    b,
    worker,
    async [Symbol.asyncDispose]() {
      await worker.stop();
      await a.stop();
      await b.stop();
    },
  };
}

Deno.test("a one-slot worker with two hubs serves each hub while the other is idle", async () => {
  const dir = await Deno.makeTempDir();
  const record = join(dir, "jobs");
  try {
    await using s = await twoHubsOneSlot(record);
    // With one connection per slot (the old design), one of these would
    // wait until its queue timeout: the only slot sat at the other hub.
    const fromB = await get(`${s.b.url}/one`);
    assert.equal(fromB.status, 200, fromB.text);
    const fromA = await get(`${s.a.url}/two`);
    assert.equal(fromA.status, 200, fromA.text);
    const fromB2 = await get(`${s.b.url}/three`);
    assert.equal(fromB2.status, 200, fromB2.text);
    assertEachOnceAndAlone(await jobs(record), [
      fromB.id,
      fromA.id,
      fromB2.id,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a job sent to a slot busy with the other hub's job is declined, queued again at the front, and served once", async () => {
  const dir = await Deno.makeTempDir();
  const record = join(dir, "jobs");
  const release = join(dir, "release");
  try {
    await using s = await twoHubsOneSlot(record);
    const held = get(`${s.a.url}/hold?file=${release}`);
    await until(
      async () => (await jobs(record)).some((j) => j.path === "/hold"),
      "the held job to start",
    );

    // A body larger than the hub sends with the head: the hub waits for
    // 100 Continue, so the decline comes before any byte of it was sent.
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const expectedSum = big.reduce((n, x) => (n + x) >>> 0, 0);
    const large = get(`${s.b.url}/sum`, { method: "POST", body: big });
    await s.b.waitFor((l) =>
      l.msg === "worker disconnected" && l.code === "declined"
    );

    // A small body (sent in the same write as the head) while the slot is
    // still busy: queued behind the first at hub B.
    const small = get(`${s.b.url}/sum`, {
      method: "POST",
      body: new Uint8Array([1, 2, 3]),
    });
    await until(
      async () => (await poolCounter(s.b, "pothead_hub_queue_length")) === 2,
      "both requests queued at hub B",
    );
    assert.equal(
      (await jobs(record)).length,
      1,
      "only the held job ran while the slot was busy",
    );

    await Deno.writeTextFile(release, "");
    const [h, l, sm] = await Promise.all([held, large, small]);
    assert.equal(h.status, 200, h.text);
    assert.equal(l.status, 200, l.text);
    assert.equal(l.text, `${big.length} ${expectedSum}\n`);
    assert.equal(sm.status, 200, sm.text);
    assert.equal(sm.text, "3 6\n");
    assertEachOnceAndAlone(await jobs(record), [h.id, l.id, sm.id]);

    // The front of the queue: the declined request ran before the one that
    // arrived after it.
    const order = (await jobs(record)).map((j) => j.id);
    assert.ok(order.indexOf(l.id) < order.indexOf(sm.id), order.join(" "));

    // Neither a failure nor a re-dispatch.
    for (const hub of [s.a, s.b]) {
      assert.equal(
        await poolCounter(hub, "pothead_hub_redispatched_total"),
        0,
      );
      assert.equal(await poolCounter(hub, "pothead_hub_rejected_total"), 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("requests through both hubs at once run one at a time, each exactly once", async () => {
  const dir = await Deno.makeTempDir();
  const record = join(dir, "jobs");
  try {
    await using s = await twoHubsOneSlot(record);
    const sent: Promise<{ status: number; text: string; id: string }>[] = [];
    for (let i = 0; i < 15; i++) {
      sent.push(get(`${s.a.url}/a${i}`));
      sent.push(
        get(`${s.b.url}/sum`, {
          method: "POST",
          body: new Uint8Array(i * 9000 + 1),
        }),
      );
    }
    const answers = await Promise.all(sent);
    for (const r of answers) assert.equal(r.status, 200, r.text);
    assertEachOnceAndAlone(await jobs(record), answers.map((r) => r.id));
    for (const hub of [s.a, s.b]) {
      assert.equal(
        await poolCounter(hub, "pothead_hub_redispatched_total"),
        0,
      );
      assert.equal(await poolCounter(hub, "pothead_hub_rejected_total"), 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one name with two addresses: the slot is offered to both hubs behind it", async () => {
  await using a = await startInprocHub({
    workerListen: { hostname: "127.0.0.1", port: 0 },
  });
  const port = a.hub.addr.worker.port;
  // The same port on a second loopback address: what a headless Service
  // with two hubs looks like to a worker.
  await using b = await startInprocHub({
    workerListen: { hostname: "127.0.0.2", port },
  });
  const ran: string[] = [];
  const worker = runWorker({
    app: {
      fetch: (req, info) => {
        ran.push(info.requestId);
        return new Response(`ok ${new URL(req.url).pathname}`);
      },
    },
    connect: [{ hostname: "hubs.example", port }],
    resolver: () => Promise.resolve(["127.0.0.1", "127.0.0.2"]),
    workers: 1,
    logger: new Logger({ sink: () => {} }),
  });
  try {
    for (const hub of [b, a, b]) {
      const r = await get(`${hub.url}/x`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, "ok /x");
    }
    assert.equal(ran.length, 3);
  } finally {
    await worker.shutdown();
  }
});
