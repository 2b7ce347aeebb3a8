/**
 * A drain serves what is queued and in flight (DESIGN.md, `--drain-timeout`),
 * uploads included: found by the soak test, where a hub restart turned a
 * queued POST into an error because `Deno.serve`'s shutdown makes request
 * bodies not read yet unreadable.
 */

import assert from "node:assert/strict";
import { FakeWorker } from "./fake_worker.ts";
import { startInprocHub } from "./inproc_hub.ts";

Deno.test("drain: a queued upload is still forwarded whole and answered", async () => {
  const h = await startInprocHub({ drainTimeoutMs: 10_000 });
  await using fake = await FakeWorker.connect(h.workerAddr, {
    pool: "hostile",
  });
  const first = fetch(`${h.url}/hostile/first`).then((r) => r.text());
  assert.ok(await fake.nextRequest());
  const upload = "x".repeat(5000);
  const second = fetch(`${h.url}/hostile/upload`, {
    method: "POST",
    body: upload,
  }).then(async (r) => ({ status: r.status, text: await r.text() }));
  // The upload waits in the queue behind the first request.
  for (let i = 0; i < 100; i++) {
    if (await h.metric("pothead_hub_queue_length", { pool: "hostile" }) === 1) {
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const stopping = h.hub.shutdown();
  // New requests are refused while the drain runs.
  const late = await fetch(`${h.url}/hostile/late`);
  assert.equal(late.status, 503);
  assert.equal(late.headers.get("pothead-error"), "draining");
  await late.body?.cancel();

  await fake.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
  const req = await fake.nextRequest(5000);
  assert.ok(req, "the queued upload reaches the worker");
  assert.equal(req.head.target, "/hostile/upload");
  assert.equal(new TextDecoder().decode(req.body), upload);
  await fake.send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
  assert.equal(await first, "first");
  assert.deepEqual(await second, { status: 200, text: "second" });
  await stopping;
});
