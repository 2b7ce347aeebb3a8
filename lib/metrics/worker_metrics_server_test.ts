import assert from "node:assert/strict";
import client from "prom-client";
import { Logger } from "../log/logger.ts";
import { serveWorkerMetrics } from "./worker_metrics_server.ts";

function logger() {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({
    format: "json",
    sink: (l) => lines.push(JSON.parse(l)),
  });
  return { lines, log };
}

function counterIn(registry: client.Registry, n: number) {
  new client.Counter({
    name: "jobs_total",
    help: "Jobs.",
    registers: [registry],
  })
    .inc(n);
}

Deno.test("worker metrics: port 0 serves nothing and writes no file", async () => {
  const { lines, log } = logger();
  await using m = await serveWorkerMetrics({ port: 0, log });
  assert.equal(m.addr, null, "port 0 is off");
  assert.equal(m.writer, null);
  assert.deepEqual(lines, []);
});

Deno.test("worker metrics: the owner of the port serves the merge; a taken port is logged once", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/9-stale.json`, "{}");
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const a = logger();
  const b = logger();
  const ra = new client.Registry();
  const rb = new client.Registry();
  counterIn(ra, 2);
  counterIn(rb, 3);
  try {
    await using owner = await serveWorkerMetrics({
      port,
      hostname: "127.0.0.1",
      registry: ra,
      multiprocDir: dir,
      log: a.log,
    });
    assert.equal(owner.addr?.port, port);
    assert.ok(
      ![...Deno.readDirSync(dir)].some((e) => e.name === "9-stale.json"),
    );
    await using other = await serveWorkerMetrics({
      port,
      hostname: "127.0.0.1",
      registry: rb,
      multiprocDir: dir,
      log: b.log,
    });
    assert.equal(other.addr, null);
    assert.deepEqual(b.lines.map((l) => l.msg), [
      "metrics port unavailable; running without it",
    ]);
    await other.writer!.flush();
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`))
      .text();
    assert.match(text, /^jobs_total 5$/m);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(await ok.text(), "ok\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker metrics: a multiprocess directory that does not exist is refused", async () => {
  const { log } = logger();
  await assert.rejects(
    () =>
      serveWorkerMetrics({
        port: 0,
        multiprocDir: "/nonexistent/pothead-metrics",
        log,
      }),
    TypeError,
  );
});
