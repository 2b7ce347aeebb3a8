import assert from "node:assert/strict";
import client from "prom-client";
import {
  checkMultiprocessDir,
  type ProcessMetricsFile,
  readMergedMetrics,
  startMultiprocessWriter,
  wipeMultiprocessDir,
} from "./multiprocess.ts";

function registryWith(jobs: number, inFlight: number, wait: number[]) {
  const registry = new client.Registry();
  const registers = [registry];
  new client.Counter({
    name: "jobs_total",
    help: "Jobs.",
    labelNames: ["code"],
    registers,
  }).inc({ code: "200" }, jobs);
  new client.Gauge({ name: "in_flight", help: "Now.", registers }).set(
    inFlight,
  );
  new client.Gauge({
    name: "started_max",
    help: "Latest start.",
    aggregator: "max",
    registers,
  }).set(jobs * 10);
  const h = new client.Histogram({
    name: "wait_seconds",
    help: "Waits.",
    buckets: [0.1, 1],
    registers,
  });
  for (const w of wait) h.observe(w);
  return registry;
}

async function text(dir: string, live?: client.Registry, exclude?: string) {
  return await (await readMergedMetrics(dir, { live, exclude })).metrics();
}

Deno.test("merge: counters and histograms summed, gauges by aggregator", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = startMultiprocessWriter(dir, registryWith(2, 1, [0.05]));
    const b = startMultiprocessWriter(dir, registryWith(3, 4, [0.5, 5]));
    await a.flush();
    await b.flush();
    assert.notEqual(a.path, b.path);
    const t = await text(dir);
    assert.match(t, /^jobs_total\{code="200"\} 5$/m);
    assert.match(t, /^in_flight 5$/m);
    assert.match(t, /^started_max 30$/m);
    assert.match(t, /^wait_seconds_bucket\{le="0.1"\} 1$/m);
    assert.match(t, /^wait_seconds_bucket\{le="1"\} 2$/m);
    assert.match(t, /^wait_seconds_bucket\{le="\+Inf"\} 3$/m);
    assert.match(t, /^wait_seconds_count 3$/m);
    await a.close();
    await b.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("merge: an exited process keeps its counters and loses its gauges", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const live = registryWith(1, 1, []);
    const own = startMultiprocessWriter(dir, live);
    const gone = startMultiprocessWriter(dir, registryWith(5, 7, [0.2]));
    await gone.close();
    const file = JSON.parse(
      await Deno.readTextFile(gone.path),
    ) as ProcessMetricsFile;
    assert.equal(file.exited, true);
    assert.equal(file.pid, Deno.pid);
    // The reader's own registry live, its own file skipped.
    live.getSingleMetric("jobs_total")!.reset();
    const t = await text(dir, live, own.path);
    assert.match(t, /^jobs_total\{code="200"\} 5$/m);
    assert.match(t, /^in_flight 1$/m);
    assert.match(t, /^wait_seconds_count 1$/m);
    await own.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("merge: a file not rewritten for staleAfterMs counts as dead", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = startMultiprocessWriter(dir, registryWith(2, 3, []));
    await w.flush();
    const later = Date.now() + 120_000;
    const t = await (await readMergedMetrics(dir, { now: later })).metrics();
    assert.match(t, /^jobs_total\{code="200"\} 2$/m);
    assert.doesNotMatch(t, /^in_flight /m);
    const fresh = await (await readMergedMetrics(dir)).metrics();
    assert.match(fresh, /^in_flight 3$/m);
    await w.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writer: rewrites on its interval; foreign and broken files are skipped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const registry = registryWith(1, 0, []);
    const counter = registry.getSingleMetric("jobs_total") as client.Counter;
    await Deno.writeTextFile(`${dir}/broken.json`, "{not json");
    await Deno.writeTextFile(`${dir}/other.json`, '{"hello":1}');
    await using w = startMultiprocessWriter(dir, registry, { intervalMs: 20 });
    counter.inc({ code: "200" }, 4);
    let t = "";
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      t = await text(dir);
      if (/^jobs_total\{code="200"\} 5$/m.test(t)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(t, /^jobs_total\{code="200"\} 5$/m);
    assert.ok(w.path.endsWith(".json"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wipe removes metrics files only; check refuses what is not a directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/1-a.json`, "{}");
    await Deno.writeTextFile(`${dir}/2-b.json.tmp`, "{}");
    await Deno.writeTextFile(`${dir}/README`, "mine");
    await Deno.mkdir(`${dir}/sub.json`);
    assert.equal(await wipeMultiprocessDir(dir), 2);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, ["README", "sub.json"]);
    await checkMultiprocessDir(dir);
    await assert.rejects(
      () => checkMultiprocessDir(`${dir}/README`),
      TypeError,
    );
    await assert.rejects(
      () => checkMultiprocessDir(`${dir}/missing`),
      /PROMETHEUS_MULTIPROC_DIR: cannot use/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
