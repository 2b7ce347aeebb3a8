/**
 * Limits and timeouts per phase (issue 5, item 3), each with its own code:
 * the handshake (`handshake-timeout`, `bad-handshake`), the response head
 * (504 `response-timeout`), the probe of an idle connection
 * (`probe-timeout`), the response body (`body-idle-timeout`), and on the
 * consumer side `--max-body-size` (413 `body-too-large`) and header limits
 * (431 `headers-too-large` where a worker would refuse the head; Deno.serve's
 * own 400 beyond that).
 */

import assert from "node:assert/strict";
import { FakeWorker } from "./fake_worker.ts";
import { startInprocHub } from "./inproc_hub.ts";
import { startWorker, until } from "./processes.ts";

const APP = "tests/fixtures/recording_app.ts";
const enc = new TextEncoder();

/** Reads until the peer closes; the whole answer as text (bounded). */
async function readAll(conn: Deno.Conn, timeoutMs = 5000): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch {
    text += "<closed by the test>";
  } finally {
    clearTimeout(timer);
  }
  try {
    conn.close();
  } catch { /* closed */ }
  return text;
}

Deno.test("handshake phase: unfinished handshakes are dropped, garbage gets 400, each counted", async () => {
  await using h = await startInprocHub({ handshakeTimeoutMs: 300 });
  const [hostname, port] = h.workerAddr.split(":");

  const slow = await Deno.connect({ hostname, port: Number(port) });
  await slow.write(
    enc.encode("GET /.well-known/pothead/v1/ptth HTTP/1.1\r\nHost: x\r\n"),
  );
  const slowAnswer = await readAll(slow);
  assert.ok(!slowAnswer.includes("<closed by the test>"), "the hub closed it");

  const garbage = await Deno.connect({ hostname, port: Number(port) });
  await garbage.write(enc.encode("HELLO THERE\r\n\r\n"));
  assert.match(await readAll(garbage), /^HTTP\/1\.1 400 /);

  const wrongPath = await Deno.connect({ hostname, port: Number(port) });
  await wrongPath.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.match(await readAll(wrongPath), /^HTTP\/1\.1 400 /);

  const unknownPool = await Deno.connect({ hostname, port: Number(port) });
  await unknownPool.write(
    enc.encode(
      "GET /.well-known/pothead/v1/ptth HTTP/1.1\r\nHost: x\r\nUpgrade: ptth\r\nConnection: Upgrade\r\nPothead-Pool: nope\r\n\r\n",
    ),
  );
  assert.match(await readAll(unknownPool), /^HTTP\/1\.1 404 /);

  const counted = (result: string) =>
    h.metric("pothead_hub_worker_connections_total", { result });
  assert.equal(await counted("handshake-timeout"), 1);
  assert.equal(await counted("bad-handshake"), 2);
  assert.equal(await counted("unknown-pool"), 1);
  assert.equal(await counted("accepted"), 0);
});

Deno.test("response head phase: a head slower than the body idle timeout is not cut off", async () => {
  // The second request goes straight from one exchange to the next on the
  // same connection (no idle read in between).
  // (A short probe timeout makes the deadline sweep run every 100 ms.)
  await using h = await startInprocHub({
    bodyIdleTimeoutMs: 200,
    probeTimeoutMs: 400,
  }, {
    responseTimeoutMs: 10_000,
  });
  await using fake = await FakeWorker.connect(h.workerAddr, {
    pool: "hostile",
  });
  const ask = (path: string) =>
    fetch(`${h.url}/hostile/${path}`).then(async (r) => ({
      status: r.status,
      text: await r.text(),
    }));
  const first = ask("first");
  const r1 = await fake.nextRequest();
  assert.ok(r1);
  const second = ask("second");
  // Let the second request queue behind the first.
  await until(
    async () =>
      await h.metric("pothead_hub_queue_length", { pool: "hostile" }) === 1,
    "second request queued",
  );
  await fake.send(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst`);
  const r2 = await fake.nextRequest();
  assert.ok(r2, "the same connection gets the second request");
  // An expensive job: its head takes longer than the body idle timeout.
  await new Promise((r) => setTimeout(r, 800));
  assert.ok(
    await fake.send(`HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond`),
  );
  assert.deepEqual(await first, { status: 200, text: "first" });
  assert.deepEqual(await second, { status: 200, text: "second" });
  assert.equal(
    await h.metric("pothead_hub_redispatched_total", { pool: "hostile" }),
    0,
  );
});

Deno.test("probe phase: an idle worker that does not answer OPTIONS * is dropped; one that answers stays", async () => {
  await using h = await startInprocHub({
    probeIntervalMs: 100,
    probeTimeoutMs: 300,
  });
  await using mute = await FakeWorker.connect(h.workerAddr, {
    name: "mute/1/0",
  });
  await using live = await FakeWorker.connect(h.workerAddr, {
    name: "live/1/0",
  });
  // The live worker answers probes the way a real one does.
  let probes = 0;
  const answering = (async () => {
    for (;;) {
      const req = await live.nextRequest(20_000);
      if (!req) return;
      assert.equal(req.head.method, "OPTIONS");
      assert.equal(req.head.target, "*");
      probes++;
      await live.send("HTTP/1.1 204 No Content\r\n\r\n");
    }
  })();
  const probe = await mute.nextRequest();
  assert.equal(probe?.head.method, "OPTIONS");
  assert.ok(await mute.waitHubClose(5000), "the mute worker is dropped");
  await until(() => probes >= 3, "three probes answered");
  assert.equal(
    await h.metric("pothead_hub_worker_disconnects_total", {
      reason: "probe-timeout",
    }),
    1,
  );
  assert.equal(
    await h.metric("pothead_hub_workers", { pool: "default", state: "idle" }),
    1,
    "the live worker is still there",
  );
  live.close();
  await answering;
});

Deno.test("consumer limits: 413 for large bodies, 431 for heads a worker would refuse", async () => {
  await using h = await startInprocHub({ maxBodySize: 1000 });
  await using worker = await startWorker(h.workerAddr, [APP]);

  // Declared too large: refused before any worker is involved.
  const declared = await fetch(`${h.url}/echo`, {
    method: "POST",
    body: new Uint8Array(2000),
  });
  assert.equal(declared.status, 413);
  assert.equal(declared.headers.get("pothead-error"), "body-too-large");
  await declared.body?.cancel();

  // Streamed without a length, too large: cut off, 413.
  const streamed = await fetch(`${h.url}/echo`, {
    method: "POST",
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(500));
        c.close();
      },
    }),
  });
  assert.equal(streamed.status, 413);
  await streamed.body?.cancel();

  // Within the limit: echoed.
  const fits = await fetch(`${h.url}/echo`, {
    method: "POST",
    body: "x".repeat(900),
  });
  assert.equal(fits.status, 200);
  assert.equal((await fits.text()).length, 900);

  // 110 fields pass Deno.serve (it takes 128) but not a worker (100): 431
  // from the hub, and no
  // worker connection is lost over it.
  const fields: Record<string, string> = {};
  for (let i = 0; i < 110; i++) fields[`x-field-${i}`] = "v";
  const many = await fetch(`${h.url}/many`, { headers: fields });
  assert.equal(many.status, 431);
  assert.equal(many.headers.get("pothead-error"), "headers-too-large");
  await many.body?.cancel();

  // A head Deno.serve itself refuses (1 MiB field).
  const big = await fetch(`${h.url}/big-head`, {
    headers: { "x-big": "a".repeat(1 << 20) },
  });
  assert.equal(big.status, 400);
  await big.body?.cancel();

  assert.equal(
    await h.metric("pothead_hub_rejected_total", { reason: "body-too-large" }),
    2,
  );
  assert.equal(
    await h.metric("pothead_hub_rejected_total", {
      reason: "headers-too-large",
    }),
    1,
  );
  // The worker still has its one connection, and serves.
  const ok = await fetch(`${h.url}/after`);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const accepted = await h.metric("pothead_hub_worker_connections_total", {
    result: "accepted",
  });
  // One connection, plus one re-dial after the streamed 413 (the request
  // was half sent, so that connection had to go).
  assert.ok(accepted <= 2, `accepted ${accepted}`);
  assert.ok(!worker.lines.some((l) => l.includes("/many")));
});
