/**
 * Metrics with real hub and worker processes (issue 4, item 5): exact counts
 * after a known sequence of requests, gauges while jobs run, the app's own
 * series at the worker's port, and the multiprocess merge.
 *
 * Jobs end when the test creates a file (`/hold?file=`), never after a
 * guessed duration; every wait is bounded.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type Proc, startHub, startWorker, until } from "./processes.ts";
import { freePort, type Metrics, scrapeMetrics } from "./prom_text.ts";

const APP = "tests/fixtures/metrics_app.ts";

/** Resolves when the response is complete; returns its status. */
async function status(url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init);
  await res.body?.cancel();
  return res.status;
}

async function waitForMetrics(
  url: string,
  what: string,
  pred: (m: Metrics) => boolean,
): Promise<Metrics> {
  const seen: { last: Metrics | null } = { last: null };
  try {
    await until(async () => pred(seen.last = await scrapeMetrics(url)), what);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; last scrape:\n${seen.last?.text}`,
    );
  }
  return seen.last!;
}

Deno.test("hub and worker metrics after a known sequence of requests", async () => {
  const dir = await Deno.makeTempDir();
  await using hub = await startHub(["--max-queue", "1"]);
  const workerPort = freePort();
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  await using _w = await startWorker(
    hub.workerAddr,
    ["--workers", "2", APP],
    2,
    {
      PROMETHEUS_PORT: String(workerPort),
    },
  );

  // 3 × 200, 2 × 404, 1 × 500, one after another.
  for (const code of [200, 404, 200, 500, 404, 200]) {
    assert.equal(await status(`${hub.url}/status/${code}`), code);
  }

  // One job held: one slot busy, one idle.
  const a = fetch(`${hub.url}/hold?file=${join(dir, "a")}`);
  const m1 = await waitForMetrics(
    hub.metricsUrl,
    "one busy worker",
    (m) =>
      m.get("pothead_hub_workers", { pool: "default", state: "busy" }) === 1,
  );
  assert.equal(
    m1.get("pothead_hub_workers", { pool: "default", state: "idle" }),
    1,
  );
  assert.equal(m1.get("pothead_hub_queue_length", { pool: "default" }), 0);
  const w1 = await scrapeMetrics(workerUrl);
  assert.equal(w1.get("pothead_worker_jobs_in_flight"), 1);

  // A second held job: both busy. Then one queued, and one refused at once.
  const b = fetch(`${hub.url}/hold?file=${join(dir, "b")}`);
  const queued = fetch(`${hub.url}/status/200`);
  const m2 = await waitForMetrics(
    hub.metricsUrl,
    "both busy and one queued",
    (m) =>
      m.get("pothead_hub_workers", { pool: "default", state: "busy" }) ===
        2 && m.get("pothead_hub_queue_length", { pool: "default" }) === 1,
  );
  assert.equal(
    m2.get("pothead_hub_workers", { pool: "default", state: "idle" }),
    0,
  );
  const full = await fetch(`${hub.url}/status/200`);
  assert.equal(full.status, 503);
  assert.equal(full.headers.get("pothead-error"), "queue-full");
  await full.body?.cancel();
  const w2 = await scrapeMetrics(workerUrl);
  assert.equal(w2.get("pothead_worker_jobs_in_flight"), 2);

  await Deno.writeTextFile(join(dir, "a"), "");
  await Deno.writeTextFile(join(dir, "b"), "");
  for (const r of [a, b, queued]) {
    const res = await r;
    await res.body?.cancel();
    assert.equal(res.status, 200);
  }

  // 6 + 2 held + 1 queued dispatched; the refused one never waited.
  const want = { "200": 6, "404": 2, "500": 1, "503": 1 };
  const m = await waitForMetrics(
    hub.metricsUrl,
    "every request counted",
    (m) =>
      JSON.stringify(m.by("pothead_hub_requests_total", "code")) ===
        JSON.stringify(want) &&
      m.get("pothead_hub_workers", { pool: "default", state: "idle" }) === 2,
  );
  assert.deepEqual(m.by("pothead_hub_requests_total", "code"), want);
  assert.equal(
    m.get("pothead_hub_queue_wait_seconds_count", { pool: "default" }),
    9,
  );
  assert.equal(
    m.get("pothead_hub_request_duration_seconds_count", { pool: "default" }),
    10,
  );
  assert.equal(
    m.get("pothead_hub_queue_wait_seconds_bucket", {
      pool: "default",
      le: "+Inf",
    }),
    9,
  );
  assert.deepEqual(m.by("pothead_hub_rejected_total", "reason"), {
    "queue-full": 1,
  });
  assert.equal(
    m.get("pothead_hub_worker_connections_total", { result: "accepted" }),
    2,
  );
  assert.equal(
    m.get("pothead_hub_workers", { pool: "default", state: "busy" }),
    0,
  );
  assert.equal(m.get("pothead_hub_queue_length", { pool: "default" }), 0);
  assert.equal(
    m.get("pothead_hub_redispatched_total", { pool: "default" }) ?? 0,
    0,
  );

  const w = await waitForMetrics(
    workerUrl,
    "every job counted",
    (w) => w.get("pothead_worker_job_duration_seconds_count") === 9,
  );
  assert.deepEqual(w.by("pothead_worker_jobs_total", "code"), {
    "200": 6,
    "404": 2,
    "500": 1,
  });
  assert.equal(w.get("pothead_worker_jobs_in_flight"), 0);
  const [hubKey] = Object.keys(w.by("pothead_worker_hub_connections", "hub"));
  assert.equal(w.get("pothead_worker_hub_connections", { hub: hubKey }), 2);
  assert.equal(w.get("pothead_worker_connect_errors_total"), 0);
  // The app's own series, registered with its own `import client from
  // "prom-client"`, served beside the worker's.
  assert.deepEqual(w.by("app_requests_total", "path"), { status: 7, hold: 2 });

  // POTHEAD_METRICS_SAMPLE=FILE keeps both scrapes, for notes and docs.
  const sample = Deno.env.get("POTHEAD_METRICS_SAMPLE");
  if (sample) {
    await Deno.writeTextFile(
      sample,
      `# hub ${hub.metricsUrl}/metrics\n${m.text}\n# worker ${workerUrl}/metrics\n${w.text}`,
    );
  }

  // Health and readiness.
  assert.equal(await status(`${hub.metricsUrl}/healthz`), 200);
  assert.equal(await status(`${hub.metricsUrl}/readyz`), 200);
  assert.equal(await status(`${workerUrl}/healthz`), 200);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("/readyz answers 503 while the hub drains", async () => {
  const dir = await Deno.makeTempDir();
  await using hub = await startHub(["--drain-timeout", "30s"]);
  await using _w = await startWorker(hub.workerAddr, [APP]);
  const held = fetch(`${hub.url}/hold?file=${join(dir, "go")}`);
  await waitForMetrics(
    hub.metricsUrl,
    "a busy worker",
    (m) =>
      m.get("pothead_hub_workers", { pool: "default", state: "busy" }) === 1,
  );
  hub.kill("SIGTERM");
  await hub.waitFor((l) => l.msg === "hub draining");
  assert.equal(await status(`${hub.metricsUrl}/readyz`), 503);
  assert.equal(await status(`${hub.metricsUrl}/healthz`), 200);
  await Deno.writeTextFile(join(dir, "go"), "");
  assert.equal((await held).status, 200);
  await (await held).body?.cancel();
  assert.equal((await hub.status).code, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("PROMETHEUS_MULTIPROC_DIR: the port's owner serves every process's merged metrics", async () => {
  const dir = await Deno.makeTempDir();
  const gate = await Deno.makeTempDir();
  // Left over from an earlier run: wiped. A file that is not ours: kept.
  await Deno.writeTextFile(
    join(dir, "1-old.json"),
    JSON.stringify({
      version: 1,
      pid: 1,
      started: 0,
      updated: 0,
      exited: true,
      metrics: [{
        name: "pothead_worker_jobs_total",
        help: "x",
        type: "counter",
        aggregator: "sum",
        values: [{ value: 1000, labels: { code: "200" } }],
      }],
    }),
  );
  await Deno.writeTextFile(join(dir, "notes.txt"), "keep me");

  await using hub = await startHub();
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PROMETHEUS_PORT: String(port),
    PROMETHEUS_MULTIPROC_DIR: dir,
  };
  const workers: Proc[] = [];
  try {
    const owner = await startWorker(hub.workerAddr, [APP], 1, env);
    workers.push(owner);
    await owner.waitFor((l) => l.msg === "metrics listening");
    const graceful = await startWorker(hub.workerAddr, [APP], 1, env);
    workers.push(graceful);
    const killed = await startWorker(hub.workerAddr, [APP], 1, env);
    workers.push(killed);
    for (const w of [graceful, killed]) {
      await w.waitFor((l) =>
        l.msg === "metrics port unavailable; running without it"
      );
    }

    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.ok(!names.includes("1-old.json"), names.join(","));
    assert.ok(names.includes("notes.txt"));

    // Three held jobs: one on each process (each has one slot).
    const held = [0, 1, 2].map(() =>
      fetch(`${hub.url}/hold?file=${join(gate, "go")}`)
    );
    await waitForMetrics(
      url,
      "three jobs in flight, merged",
      (m) => m.get("pothead_worker_jobs_in_flight") === 3,
    );
    await Deno.writeTextFile(join(gate, "go"), "");
    const pids = new Set<string>();
    for (const r of held) {
      const res = await r;
      assert.equal(res.status, 200);
      pids.add((res.headers.get("pothead-worker") ?? "").split("/")[1]);
      await res.body?.cancel();
    }
    assert.equal(pids.size, 3, "one job on each process");

    let m = await waitForMetrics(
      url,
      "three jobs, merged",
      (m) =>
        m.get("pothead_worker_jobs_total", { code: "200" }) === 3 &&
        m.get("pothead_worker_jobs_in_flight") === 0,
    );
    assert.equal(m.get("pothead_worker_job_duration_seconds_count"), 3);
    assert.equal(m.get("app_requests_total", { path: "hold" }), 3);
    const hubKey =
      Object.keys(m.by("pothead_worker_hub_connections", "hub"))[0];
    assert.equal(m.get("pothead_worker_hub_connections", { hub: hubKey }), 3);
    for (const w of [graceful, killed]) {
      assert.equal(
        w.lines.filter((l) => l.includes("metrics port unavailable")).length,
        1,
        "logged once",
      );
    }

    // A clean stop: counters stay, gauges go.
    graceful.kill("SIGTERM");
    assert.equal((await graceful.status).code, 0);
    m = await scrapeMetrics(url);
    assert.equal(m.get("pothead_worker_jobs_total", { code: "200" }), 3);
    assert.equal(m.get("pothead_worker_hub_connections", { hub: hubKey }), 2);

    // A crash: counters stay; its gauges stay until its file goes stale.
    await killed.stop();
    m = await scrapeMetrics(url);
    assert.equal(m.get("pothead_worker_jobs_total", { code: "200" }), 3);
    assert.equal(m.get("app_requests_total", { path: "hold" }), 3);

    // The owner goes on counting on top of the dead ones.
    for (let i = 0; i < 2; i++) {
      assert.equal(await status(`${hub.url}/status/201`), 201);
    }
    m = await waitForMetrics(
      url,
      "the owner's new jobs",
      (m) => m.get("pothead_worker_jobs_total", { code: "201" }) === 2,
    );
    assert.equal(m.get("pothead_worker_jobs_total", { code: "200" }), 3);
    assert.equal(m.get("pothead_worker_job_duration_seconds_count"), 5);
  } finally {
    for (const w of workers) await w.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(gate, { recursive: true });
  }
});
