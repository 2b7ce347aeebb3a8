/**
 * The core job end to end, with real hub and worker processes on loopback
 * (issue 2, item 8).
 */

import assert from "node:assert/strict";
import {
  type HubProc,
  type Proc,
  spawnDeno,
  startHub,
  startWorker,
  until,
} from "./processes.ts";

const APP = "tests/fixtures/test_app.ts";

async function json<T>(res: Response): Promise<T> {
  return await res.json() as T;
}

/** Waits (bounded) until a hub series has the given value. */
async function untilMetric(
  hub: HubProc,
  name: string,
  labels: string,
  value: number,
  what: string,
): Promise<void> {
  await until(
    async () => (await metricValue(hub, name, labels)) === value,
    what,
  );
}

async function metricValue(
  hub: HubProc,
  name: string,
  labels: string,
): Promise<number> {
  const text = await (await fetch(`${hub.metricsUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

Deno.test("GET, POST and HEAD round trip through the hub", async () => {
  await using hub = await startHub();
  await using _w = await startWorker(hub.workerAddr, [APP]);

  const get = await fetch(`${hub.url}/echo?x=1`, {
    headers: { "x-custom": "kept", "x-request-id": "req-42" },
  });
  assert.equal(get.status, 200);
  assert.equal(get.headers.get("x-request-id"), "req-42");
  assert.match(get.headers.get("pothead-worker") ?? "", /\/\d+\/0$/);
  assert.match(get.headers.get("server-timing") ?? "", /^queue;dur=/);
  const g = await json<
    { method: string; headers: Record<string, string>; consumer: string }
  >(get);
  assert.equal(g.method, "GET");
  assert.equal(g.headers["x-custom"], "kept");
  assert.equal(g.headers["x-request-id"], "req-42");
  assert.equal(g.headers["x-forwarded-for"], "127.0.0.1");
  assert.equal(g.headers["x-forwarded-proto"], "http");
  assert.match(g.headers["x-forwarded-host"], /^127\.0\.0\.1:\d+$/);
  assert.equal(g.consumer, "127.0.0.1");

  const body = "a".repeat(100_000) + "end";
  const post = await fetch(`${hub.url}/echo`, { method: "POST", body });
  assert.equal(post.status, 200);
  const p = await json<
    { method: string; length: number; headers: Record<string, string> }
  >(post);
  assert.equal(p.method, "POST");
  assert.equal(p.length, body.length);
  assert.equal(p.headers["content-length"], String(body.length));

  // A body of unknown length reaches the worker chunked, whole.
  const stream = new Blob([body]).stream();
  const chunked = await fetch(`${hub.url}/echo`, {
    method: "PUT",
    body: stream,
  });
  const c = await json<{ method: string; length: number }>(chunked);
  assert.equal(c.method, "PUT");
  assert.equal(c.length, body.length);

  const head = await fetch(`${hub.url}/echo`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");

  const missing = await fetch(`${hub.url}/nowhere`);
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), "not found\n");
});

Deno.test("hop-by-hop fields are removed in both directions", async () => {
  await using hub = await startHub();
  await using _w = await startWorker(hub.workerAddr, [APP]);
  const res = await fetch(`${hub.url}/echo`, {
    headers: {
      "connection": "keep-alive, x-hop",
      "x-hop": "secret",
      "te": "trailers",
      "keep-alive": "timeout=5",
    },
  });
  const e = await json<{ headers: Record<string, string> }>(res);
  for (const name of ["x-hop", "te", "keep-alive", "connection"]) {
    assert.equal(e.headers[name], undefined, name);
  }
});

Deno.test("two one-slot workers run six jobs three each, never two at once", async () => {
  await using hub = await startHub();
  await using _a = await startWorker(hub.workerAddr, [APP]);
  await using _b = await startWorker(hub.workerAddr, [APP]);
  const t0 = Date.now();
  const results = await Promise.all(
    Array.from(
      { length: 6 },
      () =>
        fetch(`${hub.url}/sleep?ms=300`).then((r) =>
          json<{ pid: number; start: number; end: number }>(r)
        ),
    ),
  );
  const elapsed = Date.now() - t0;
  const byPid = Map.groupBy(results, (r) => r.pid);
  assert.equal(byPid.size, 2);
  for (const jobs of byPid.values()) {
    assert.equal(jobs.length, 3);
    jobs.sort((x, y) => x.start - y.start);
    for (let i = 1; i < jobs.length; i++) {
      assert.ok(
        jobs[i].start >= jobs[i - 1].end,
        "a worker ran two jobs at once",
      );
    }
  }
  // Three rounds of 300 ms: about 900 ms, far less than six in a row.
  assert.ok(elapsed >= 900 && elapsed < 1800, `took ${elapsed} ms`);
});

Deno.test("a full queue answers 503 queue-full at once", async () => {
  await using hub = await startHub([
    "--max-queue",
    "1",
    "--queue-timeout",
    "30s",
  ]);
  const first = new AbortController();
  const queued = fetch(`${hub.url}/sleep`, { signal: first.signal }).catch(() =>
    null
  );
  await until(
    async () =>
      (await metricValue(hub, "pothead_hub_queue_length", 'pool="default"')) ===
        1,
    "one queued request",
  );
  const res = await fetch(`${hub.url}/sleep`);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("pothead-error"), "queue-full");
  assert.ok(res.headers.get("retry-after"));
  await res.body?.cancel();
  first.abort();
  await queued;
});

Deno.test("a request no worker takes in time gets 503 queue-timeout", async () => {
  await using hub = await startHub(["--queue-timeout", "300ms"]);
  const res = await fetch(`${hub.url}/sleep`);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("pothead-error"), "queue-timeout");
  await res.body?.cancel();
});

Deno.test("a queued request whose consumer went away never reaches a worker", async () => {
  await using hub = await startHub();
  const ac = new AbortController();
  const gone = fetch(`${hub.url}/sleep?ms=1&tag=gone`, { signal: ac.signal })
    .catch(() => null);
  await until(
    async () =>
      (await metricValue(hub, "pothead_hub_queue_length", 'pool="default"')) ===
        1,
    "the request to queue",
  );
  ac.abort();
  await gone;
  await until(
    async () =>
      (await metricValue(hub, "pothead_hub_queue_length", 'pool="default"')) ===
        0,
    "the request to leave the queue",
  );
  await using w = await startWorker(hub.workerAddr, [APP]);
  const res = await fetch(`${hub.url}/sleep?ms=1&tag=kept`);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await until(
    () => w.lines.some((l) => l.includes("tag=kept")),
    "the job log line",
  );
  assert.ok(
    !w.lines.some((l) => l.includes("tag=gone")),
    "the abandoned request ran",
  );
});

Deno.test("a worker that dies before the head: one re-dispatch, then 502 worker-failed", async () => {
  await using hub = await startHub();
  await using _a = await startWorker(hub.workerAddr, [APP]);
  await using _b = await startWorker(hub.workerAddr, [APP]);
  const res = await fetch(`${hub.url}/crash`);
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("pothead-error"), "worker-failed");
  await res.body?.cancel();
  assert.equal(
    await metricValue(hub, "pothead_hub_redispatched_total", 'pool="default"'),
    1,
  );
});

Deno.test("a worker that dies mid-body aborts the consumer's body; nothing hangs", async () => {
  await using hub = await startHub();
  await using w = await startWorker(hub.workerAddr, [APP]);
  const res = await fetch(`${hub.url}/stream?chunks=1000&ms=20&size=1000`);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.ok(!first.done);
  w.kill("SIGKILL");
  await assert.rejects(async () => {
    for (let i = 0; i < 10_000; i++) {
      const { done } = await reader.read();
      if (done) {
        throw new Error("the body ended cleanly although the worker died");
      }
    }
  }, (err: Error) => !err.message.includes("ended cleanly"));
});

Deno.test("a consumer that goes away mid-job aborts the app's request signal", async () => {
  await using hub = await startHub();
  await using w = await startWorker(hub.workerAddr, [APP]);
  const ac = new AbortController();
  const req = fetch(`${hub.url}/watch?ms=20000`, {
    signal: ac.signal,
    headers: { "x-request-id": "watch-me" },
  }).catch(() => null);
  await untilMetric(
    hub,
    "pothead_hub_workers",
    'pool="default",state="busy"',
    1,
    "the job to start",
  );
  ac.abort();
  await req;
  await until(
    () => w.lines.some((l) => l.includes("ABORTED watch-me")),
    "the app to see the abort",
  );
  // The slot lives on and serves the next request.
  await untilMetric(
    hub,
    "pothead_hub_workers",
    'pool="default",state="idle"',
    1,
    "the slot to reconnect",
  );
  const next = await fetch(`${hub.url}/sleep?ms=1`);
  assert.equal(next.status, 200);
  await next.body?.cancel();
});

Deno.test("an app that throws answers 500 and the slot lives on", async () => {
  await using hub = await startHub();
  const app = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    app,
    `export default (req) => { if (new URL(req.url).pathname === "/boom") throw new Error("boom"); return new Response("ok"); };`,
  );
  try {
    await using _w = await startWorker(hub.workerAddr, [app]);
    const boom = await fetch(`${hub.url}/boom`);
    assert.equal(boom.status, 500);
    await boom.body?.cancel();
    const ok = await fetch(`${hub.url}/fine`);
    assert.equal(await ok.text(), "ok");
  } finally {
    await Deno.remove(app);
  }
});

Deno.test("workers reconnect after a hub restart and serve again", async () => {
  const ports = await freePorts(3);
  const args = [
    "--listen",
    `127.0.0.1:${ports[0]}`,
    "--worker-listen",
    `127.0.0.1:${ports[1]}`,
    "--metrics-listen",
    `127.0.0.1:${ports[2]}`,
  ];
  const hub1 = await startHub(args);
  let hub2: HubProc | null = null;
  let w: Proc | null = null;
  try {
    w = await startWorker(hub1.workerAddr, [APP]);
    const before = await fetch(`${hub1.url}/sleep?ms=1`);
    assert.equal(before.status, 200);
    await before.body?.cancel();
    await hub1.stop();
    const connected = w.lines.filter((l) =>
      l.includes('"worker connected"')
    ).length;
    hub2 = await startHub(args);
    await until(
      () =>
        w!.lines.filter((l) => l.includes('"worker connected"')).length >
          connected,
      "the worker to reconnect",
      20_000,
    );
    const after = await fetch(`${hub2.url}/sleep?ms=1`);
    assert.equal(after.status, 200);
    await after.body?.cancel();
  } finally {
    await hub1.stop();
    await hub2?.stop();
    await w?.stop();
  }
});

Deno.test("SIGTERM on the hub drains the job in flight, then exits 0", async () => {
  await using hub = await startHub(["--drain-timeout", "20s"]);
  await using _w = await startWorker(hub.workerAddr, [APP]);
  const inFlight = fetch(`${hub.url}/sleep?ms=700`);
  await untilMetric(
    hub,
    "pothead_hub_workers",
    'pool="default",state="busy"',
    1,
    "the job to start",
  );
  hub.kill("SIGTERM");
  await hub.waitFor((l) => l.msg === "hub draining");
  const res = await inFlight;
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const status = await hub.status;
  assert.equal(status.code, 0);
});

Deno.test("SIGTERM on the worker finishes the job in flight, then exits 0", async () => {
  await using hub = await startHub();
  await using w = await startWorker(hub.workerAddr, [APP, "--workers", "2"], 2);
  const inFlight = fetch(`${hub.url}/sleep?ms=700`);
  await untilMetric(
    hub,
    "pothead_hub_workers",
    'pool="default",state="busy"',
    1,
    "the job to start",
  );
  w.kill("SIGTERM");
  const res = await inFlight;
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal((await w.status).code, 0);
  // The idle slot was closed at once, the busy one after its job.
  await untilMetric(
    hub,
    "pothead_hub_workers",
    'pool="default",state="idle"',
    0,
    "the worker to leave",
  );
});

Deno.test("a bad flag exits 2 naming the flag", async () => {
  for (
    const [script, args, flag] of [
      ["hub.ts", ["--max-queue", "lots"], "--max-queue"],
      ["hub.ts", ["--queue-timeout", "soon"], "--queue-timeout"],
      ["hub.ts", ["--no-such-flag"], "--no-such-flag"],
      ["worker.ts", ["--workers", "0"], "--workers"],
      ["worker.ts", ["--connect", "nohost"], "--connect"],
    ] as const
  ) {
    const p = spawnDeno(script, [...args]);
    const status = await p.status;
    assert.equal(status.code, 2, `${script} ${args.join(" ")}`);
    assert.ok(
      p.lines[0]?.includes(flag),
      `first line names ${flag}: ${p.lines[0]}`,
    );
    assert.ok(p.lines.some((l) => l.startsWith("Usage:")), "usage on stderr");
  }
});

async function freePorts(n: number): Promise<number[]> {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return await Promise.resolve(ports);
}

Deno.test("an app error is one log line naming the error, and the job line says app-error", async () => {
  await using hub = await startHub();
  const app = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    app,
    `export default () => { throw new RangeError("bad frame size"); };`,
  );
  try {
    await using w = await startWorker(hub.workerAddr, [app]);
    const res = await fetch(`${hub.url}/x`);
    assert.equal(res.status, 500);
    await res.body?.cancel();
    const failed = await w.waitFor((l) => l.msg === "app failed");
    assert.equal(failed.reason, "RangeError: bad frame size");
    assert.match(String(failed.where), /^at /);
    const job = await w.waitFor((l) => l.msg === "job");
    assert.equal(job.status, 500);
    assert.equal(job.error, "app-error");
    // Every line the worker wrote is one JSON object: no stack trace lines.
    for (const line of w.lines) {
      assert.doesNotThrow(() => JSON.parse(line), line);
    }
  } finally {
    await Deno.remove(app);
  }
});

Deno.test("a slow uploader of a small body never holds a worker", async () => {
  await using hub = await startHub();
  await using w = await startWorker(hub.workerAddr, [APP]);
  const port = Number(new URL(hub.url).port);
  const slow = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // Declares 1000 bytes, sends 10, then stalls.
    await slow.write(new TextEncoder().encode(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789",
    ));
    const res = await fetch(`${hub.url}/sleep?ms=1`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.ok(
      !w.lines.some((l) => l.includes('"path":"/echo"')),
      "the stalled upload reached the worker",
    );
  } finally {
    slow.close();
  }
});
