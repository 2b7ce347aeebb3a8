/**
 * Live reload of `--config` (SIGHUP, `POST /-/reload`), end to end with real
 * hub and worker processes (issue 8, items 5 and 6).
 */

import assert from "node:assert/strict";
import { type HubProc, startHub, startWorker, until } from "./processes.ts";
import {
  jobOrder,
  logLines,
  metric,
  ORDER_APP,
  tempDir,
} from "./routing_helpers.ts";

/** Sends SIGHUP and waits for the hub's answer (the `n`-th line of `msg`). */
async function hangup(hub: HubProc, msg: string): Promise<void> {
  const before = logLines(hub, (l) => l.msg === msg).length;
  hub.kill("SIGHUP");
  await until(
    () => logLines(hub, (l) => l.msg === msg).length > before,
    `'${msg}' after SIGHUP`,
  );
}

/** GET that must succeed; resolves with the worker's JSON answer. */
async function job(
  hub: HubProc,
  path: string,
): Promise<{ pid: number; name: string }> {
  const res = await fetch(`${hub.url}${path}`);
  const body = await res.text();
  assert.equal(res.status, 200, `${path}: ${body}`);
  return JSON.parse(body);
}

async function poolsOnStatusPage(hub: HubProc): Promise<string[]> {
  const res = await fetch(`${hub.metricsUrl}/status.json`);
  const body = await res.json() as { pools: { name: string }[] };
  return body.pools.map((p) => p.name).sort();
}

Deno.test("reload under load: every request in flight is answered, workers stay", async () => {
  await using dir = await tempDir();
  const v1 = `{ "pools": { "a": {} }, "defaultPool": "a" }`;
  const config = await dir.write("pothead.jsonc", v1);
  await using hub = await startHub(["--config", config]);
  await using worker = await startWorker(
    hub.workerAddr,
    ["--pool", "a", "--workers", "2", ORDER_APP],
    2,
  );

  const total = 80;
  const answers = Array.from(
    { length: total },
    (_, i) => job(hub, `/job?ms=20&name=r${i}`),
  );
  await until(
    async () =>
      (await metric(hub, "pothead_hub_queue_length", 'pool="a"'))! > 0,
    "requests queued",
  );

  // A new pool and route, other limits; then back again.
  await dir.write(
    "pothead.jsonc",
    `{
      "pools": { "a": { "maxQueue": 500, "queueTimeout": "20s" }, "b": {} },
      "routes": [{ "path": "/b/", "pool": "b" }],
      "defaultPool": "a",
    }`,
  );
  await hangup(hub, "config reloaded");
  await dir.write(
    "pothead.jsonc",
    `{ "pools": { "a": { "responseTimeout": "60s" } }, "defaultPool": "a" }`,
  );
  await hangup(hub, "config reloaded");

  const results = await Promise.all(answers);
  assert.equal(results.length, total);
  assert.deepEqual(
    new Set(jobOrder(worker)),
    new Set(Array.from({ length: total }, (_, i) => `r${i}`)),
    "every request ran exactly once",
  );
  assert.equal(jobOrder(worker).length, total);

  // The first reload came while requests were still waiting or running.
  const lines = logLines(
    hub,
    (l) => l.msg === "request" || l.msg === "config reloaded",
  );
  const answeredBefore = lines.findIndex((l) => l.msg === "config reloaded");
  assert.ok(
    answeredBefore < total,
    `${answeredBefore} answered before the reload`,
  );
  const reloads = logLines(hub, (l) => l.msg === "config reloaded");
  assert.equal(reloads[0].added, "b");
  assert.equal(reloads[1].removed, "b");

  // The worker's two connections were never dropped.
  assert.equal(logLines(hub, (l) => l.msg === "worker disconnected").length, 0);
  assert.equal(
    await metric(hub, "pothead_hub_workers", 'pool="a",state="idle"'),
    2,
  );
  // The empty pool b closed at once; the pages no longer show it.
  assert.ok(
    logLines(hub, (l) => l.msg === "pool closed" && l.pool === "b").length ===
      1,
  );
  assert.equal(await metric(hub, "pothead_hub_queue_length", 'pool="b"'), null);
  assert.deepEqual(await poolsOnStatusPage(hub), ["a"]);
});

Deno.test("reload: a removed pool serves its queue then closes; an added pool takes workers; limits apply at once", async () => {
  await using dir = await tempDir();
  const config = await dir.write(
    "pothead.jsonc",
    `{
      "pools": { "a": {}, "b": {} },
      "routes": [{ "path": "/b/", "pool": "b" }],
      "defaultPool": "a",
    }`,
  );
  await using hub = await startHub(["--config", config]);
  await using a = await startWorker(hub.workerAddr, ["--pool", "a", ORDER_APP]);
  await using b = await startWorker(hub.workerAddr, ["--pool", "b", ORDER_APP]);
  // Pool c does not exist yet: its worker is refused and keeps trying.
  await using c = await startWorker(
    hub.workerAddr,
    ["--pool", "c", ORDER_APP],
    0,
  );
  await hub.waitFor((l) =>
    l.msg === "worker refused" && l.result === "unknown-pool"
  );

  // b's one slot is held; two more requests wait in b's queue.
  const gateB = `${dir.path}/open-b`;
  const bAnswers = [
    job(hub, `/b/hold?name=b-block&hold=${encodeURIComponent(gateB)}`),
  ];
  await until(() => jobOrder(b).length === 1, "b busy");
  bAnswers.push(job(hub, "/b/job?name=b-1"));
  await until(
    async () => await metric(hub, "pothead_hub_queue_length", 'pool="b"') === 1,
    "b-1 queued",
  );
  bAnswers.push(job(hub, "/b/job?name=b-2"));
  await until(
    async () => await metric(hub, "pothead_hub_queue_length", 'pool="b"') === 2,
    "b-2 queued",
  );

  await dir.write(
    "pothead.jsonc",
    `{
      "pools": { "a": { "maxQueue": 1 }, "c": {} },
      "routes": [{ "path": "/c/", "pool": "c" }],
      "defaultPool": "a",
    }`,
  );
  await hangup(hub, "config reloaded");
  const reloaded = logLines(hub, (l) => l.msg === "config reloaded")[0];
  assert.equal(reloaded.added, "c");
  assert.equal(reloaded.removed, "b");

  // Routes changed at once: /b/ now falls to the default pool a.
  assert.equal((await job(hub, "/b/job?name=after")).pid, a.child.pid);
  // The added pool takes its worker (it reconnects after its backoff).
  await hub.waitFor((l) => l.msg === "worker connected" && l.pool === "c");
  assert.equal((await job(hub, "/c/job?name=c-1")).pid, c.child.pid);

  // a's new limit holds at once: one waiting request, the next is refused.
  const gateA = `${dir.path}/open-a`;
  const aBlock = job(
    hub,
    `/hold?name=a-block&hold=${encodeURIComponent(gateA)}`,
  );
  await until(() => jobOrder(a).includes("a-block"), "a busy");
  const aQueued = job(hub, "/job?name=a-1");
  await until(
    async () => await metric(hub, "pothead_hub_queue_length", 'pool="a"') === 1,
    "a-1 queued",
  );
  const full = await fetch(`${hub.url}/job?name=a-2`);
  await full.body?.cancel();
  assert.equal(full.status, 503);
  assert.equal(full.headers.get("pothead-error"), "queue-full");
  await Deno.writeTextFile(gateA, "");
  await Promise.all([aBlock, aQueued]);

  // The retired pool b is still listed while its queue drains.
  assert.deepEqual(await poolsOnStatusPage(hub), ["a", "b", "c"]);
  // Its queued requests are served by its own worker, in order.
  await Deno.writeTextFile(gateB, "");
  for (const r of await Promise.all(bAnswers)) assert.equal(r.pid, b.child.pid);
  assert.deepEqual(jobOrder(b), ["b-block", "b-1", "b-2"]);

  // Then the pool and its connection close, and b's worker is refused.
  await hub.waitFor((l) => l.msg === "pool closed" && l.pool === "b");
  await hub.waitFor((l) => l.msg === "worker disconnected" && l.pool === "b");
  const refusals = () =>
    logLines(
      hub,
      (l) => l.msg === "worker refused" && l.result === "unknown-pool",
    )
      .filter((l) => String(l.reason).includes("'b'")).length;
  await until(() => refusals() > 0, "b's worker refused");
  assert.equal(await metric(hub, "pothead_hub_queue_length", 'pool="b"'), null);
  assert.equal(await metric(hub, "pothead_hub_queue_length", 'pool="c"'), 0);
  assert.deepEqual(await poolsOnStatusPage(hub), ["a", "c"]);
  // a's and c's connections were never dropped.
  assert.deepEqual(
    logLines(hub, (l) => l.msg === "worker disconnected").map((l) => l.pool),
    ["b"],
  );
});

Deno.test("an invalid reload changes nothing (SIGHUP and POST /-/reload)", async () => {
  await using dir = await tempDir();
  const valid = `{
  "pools": { "a": {}, "b": {} },
  "routes": [{ "path": "/b/", "pool": "b" }],
  "defaultPool": "a",
}`;
  const config = await dir.write("pothead.jsonc", valid);
  await using hub = await startHub([
    "--config",
    config,
    "--enable-reload-endpoint",
  ]);
  await using a = await startWorker(hub.workerAddr, ["--pool", "a", ORDER_APP]);
  await using b = await startWorker(hub.workerAddr, ["--pool", "b", ORDER_APP]);
  const routesAsBefore = async () => {
    assert.equal((await job(hub, "/b/x")).pid, b.child.pid);
    assert.equal((await job(hub, "/x")).pid, a.child.pid);
    assert.equal((await job(hub, "/bee/x")).pid, a.child.pid);
  };
  await routesAsBefore();

  // A misspelt pool on line 3; column 32 is where its value starts.
  await dir.write(
    "pothead.jsonc",
    valid.replace('"pool": "b" }', '"pool": "bb" }'),
  );
  await hangup(hub, "config reload refused");
  const refused = logLines(hub, (l) => l.msg === "config reload refused")[0];
  assert.equal(refused.level, "error");
  assert.equal(refused.file, config);
  assert.equal(refused.line, 3);
  assert.match(String(refused.reason), /pool 'bb' is not defined in pools/);
  await routesAsBefore();

  // The same file through the endpoint: 422 with file:line:column.
  const post = await fetch(`${hub.metricsUrl}/-/reload`, { method: "POST" });
  assert.equal(post.status, 422);
  const body = await post.json() as { ok: boolean; error: string };
  assert.equal(body.ok, false);
  assert.ok(body.error.startsWith(`${config}:3:`), body.error);

  // A syntax error and a missing file are refused alike.
  await dir.write("pothead.jsonc", valid.slice(0, -3));
  const syntax = await fetch(`${hub.metricsUrl}/-/reload`, { method: "POST" });
  assert.equal(syntax.status, 422);
  await syntax.body?.cancel();
  await Deno.remove(config);
  await hangup(hub, "config reload refused");
  assert.equal(
    logLines(hub, (l) => l.msg === "config reload refused").length,
    4,
  );
  await routesAsBefore();

  // Nothing was reloaded, nothing dropped, both pools still shown.
  assert.equal(logLines(hub, (l) => l.msg === "config reloaded").length, 0);
  assert.equal(logLines(hub, (l) => l.msg === "worker disconnected").length, 0);
  assert.deepEqual(await poolsOnStatusPage(hub), ["a", "b"]);

  // A valid file goes through the endpoint: 200 with what changed.
  await dir.write("pothead.jsonc", valid.replace('"/b/"', '"/bee/"'));
  const ok = await fetch(`${hub.metricsUrl}/-/reload`, { method: "POST" });
  assert.equal(ok.status, 200);
  const summary = await ok.json();
  assert.deepEqual(summary, {
    ok: true,
    added: [],
    removed: [],
    changed: [],
    routes: 1,
    defaultPool: "a",
  });
  assert.equal((await job(hub, "/bee/x")).pid, b.child.pid);
  assert.equal((await job(hub, "/b/x")).pid, a.child.pid);
});

Deno.test("POST /-/reload is off unless --enable-reload-endpoint", async () => {
  await using dir = await tempDir();
  const config = await dir.write(
    "pothead.jsonc",
    `{ "pools": { "a": {} }, "defaultPool": "a" }`,
  );
  await using hub = await startHub(["--config", config]);
  const res = await fetch(`${hub.metricsUrl}/-/reload`, { method: "POST" });
  await res.body?.cancel();
  assert.equal(res.status, 404);
  assert.equal(logLines(hub, (l) => l.msg === "config reloaded").length, 0);
});
