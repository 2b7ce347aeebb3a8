/**
 * Access logs (issue 4, item 3): one line per consumer request at the hub,
 * one per job at the worker, one per error of the hub itself, as JSON with
 * `--log-format json` and as `key=value` text by default.
 */

import assert from "node:assert/strict";
import {
  type LogLine,
  spawnDeno,
  startHub,
  startWorker,
  until,
} from "./processes.ts";
import { freePort } from "./prom_text.ts";

const APP = "tests/fixtures/metrics_app.ts";

/** Every line parses as a JSON object with time, level and msg. */
function parseAll(lines: string[]): LogLine[] {
  return lines.map((line) => {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`not a JSON log line: ${line}`);
    }
    assert.equal(typeof v, "object");
    const o = v as LogLine;
    assert.ok(!Number.isNaN(Date.parse(String(o.time))), line);
    assert.match(String(o.level), /^(debug|info|warn|error)$/, line);
    assert.equal(typeof o.msg, "string", line);
    return o;
  });
}

/** Parses a text line: `TIME LEVEL msg words key=value key="quoted"`. */
function parseText(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const [time, level] = line.split(" ", 2);
  out.time = time;
  out.level = level;
  for (const m of line.matchAll(/ ([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    out[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
  }
  return out;
}

Deno.test("json access log: a line per request at the hub, per job at the worker", async () => {
  const token = { POTHEAD_WORKER_TOKEN: "s3cret-token" };
  await using hub = await startHub([], token);
  await using worker = await startWorker(hub.workerAddr, [APP], 1, token);

  const res = await fetch(`${hub.url}/status/201?x=1`, {
    method: "POST",
    body: "hello",
    headers: { "x-request-id": "acc-1" },
  });
  assert.equal(res.status, 201);
  assert.equal(await res.text(), "status 201\n");

  const req = await hub.waitFor((l) => l.msg === "request" && l.id === "acc-1");
  assert.equal(req.level, "info");
  assert.equal(req.pool, "default");
  assert.equal(req.method, "POST");
  assert.equal(req.path, "/status/201");
  assert.equal(req.status, 201);
  assert.equal(req.in, 5);
  assert.equal(req.out, 11);
  assert.equal(typeof req.queue_ms, "number");
  assert.ok((req.queue_ms as number) >= 0);
  assert.match(String(req.worker), /\/\d+\/0$/);
  assert.equal(typeof req.ms, "number");
  assert.ok((req.ms as number) >= (req.queue_ms as number));
  assert.equal(req.client, "127.0.0.1");
  assert.equal(req.error, undefined);

  const job = await worker.waitFor((l) => l.msg === "job" && l.id === "acc-1");
  assert.equal(job.method, "POST");
  assert.equal(job.path, "/status/201?x=1");
  assert.equal(job.status, 201);
  assert.equal(job.out, 11);
  assert.equal(typeof job.ms, "number");
  assert.equal(job.slot, req.worker);

  // The hub's own errors, one line each with the reason: a refused worker…
  await using bad = spawnDeno("worker.ts", [
    "--log-format",
    "json",
    "--connect",
    hub.workerAddr,
    APP,
  ], { POTHEAD_WORKER_TOKEN: "wrong" });
  const refused = await hub.waitFor((l) => l.msg === "worker refused");
  assert.equal(refused.level, "warn");
  assert.equal(refused.result, "unauthorized");
  assert.equal(refused.status, 401);
  assert.equal(typeof refused.reason, "string");
  assert.match(String(refused.remote), /^127\.0\.0\.1:\d+$/);
  await bad.stop();

  // …and a worker connection that dropped.
  await worker.stop();
  const gone = await hub.waitFor((l) =>
    l.msg === "worker disconnected" && l.worker === req.worker
  );
  assert.equal(typeof gone.reason, "string");
  assert.ok(String(gone.reason).length > 0);

  // A request the hub answers itself carries its error code.
  const noWorker = await fetch(`${hub.url}/status/200`, {
    headers: { "x-request-id": "acc-2" },
    signal: AbortSignal.timeout(200),
  }).catch(() => null);
  await noWorker?.body?.cancel();
  const closed = await hub.waitFor((l) =>
    l.msg === "request" && l.id === "acc-2"
  );
  assert.equal(closed.status, 499);
  assert.equal(closed.error, "client-closed");

  hub.kill("SIGTERM");
  await hub.status;
  const hubLines = parseAll(hub.lines);
  const workerLines = parseAll(worker.lines);
  assert.equal(hubLines.filter((l) => l.msg === "request").length, 2);
  assert.equal(workerLines.filter((l) => l.msg === "job").length, 1);
  // The token is never written to a log.
  for (const l of [...hub.lines, ...worker.lines]) {
    assert.ok(!l.includes("s3cret-token"), l);
  }
});

Deno.test("text access log: the same fields as key=value", async () => {
  const listen = freePort();
  const workerPort = freePort();
  await using hub = spawnDeno("hub.ts", [
    "--listen",
    `127.0.0.1:${listen}`,
    "--worker-listen",
    `127.0.0.1:${workerPort}`,
    "--metrics-listen",
    "off",
  ]);
  await until(
    () => hub.lines.some((l) => l.includes(" INFO hub listening ")),
    "the hub to listen",
    20_000,
  );
  await using worker = spawnDeno("worker.ts", [
    "--connect",
    `127.0.0.1:${workerPort}`,
    APP,
  ]);
  await until(
    () => worker.lines.some((l) => l.includes(" INFO worker connected ")),
    "the worker to connect",
    20_000,
  );

  const res = await fetch(`http://127.0.0.1:${listen}/status/404?q=a%20b`, {
    headers: { "x-request-id": "text-1" },
  });
  assert.equal(res.status, 404);
  await res.body?.cancel();

  let line = "";
  await until(() => {
    line = hub.lines.find((l) => l.includes(" INFO request ")) ?? "";
    return line !== "";
  }, "the request line");
  const f = parseText(line);
  assert.ok(!Number.isNaN(Date.parse(f.time)), line);
  assert.equal(f.level, "INFO");
  assert.equal(f.id, "text-1");
  assert.equal(f.pool, "default");
  assert.equal(f.method, "GET");
  assert.equal(f.path, "/status/404");
  assert.equal(f.status, "404");
  assert.equal(f.in, "0");
  assert.equal(f.out, "11");
  assert.match(f.queue_ms, /^\d+(\.\d)?$/);
  assert.match(f.worker, /\/\d+\/0$/);
  assert.match(f.ms, /^\d+(\.\d)?$/);
  assert.equal(f.client, "127.0.0.1");

  await until(
    () => worker.lines.some((l) => l.includes(" INFO job ")),
    "the job line",
  );
  const job = parseText(worker.lines.find((l) => l.includes(" INFO job "))!);
  assert.equal(job.id, "text-1");
  assert.equal(job.status, "404");
  assert.equal(job.path, "/status/404?q=a%20b");
});
