import assert from "node:assert/strict";
import { HubMetrics } from "../metrics/hub_metrics.ts";
import type { StatusSnapshot } from "../metrics/status_board.ts";
import { createMetricsHandler, serveMetricsPort } from "./metrics_server.ts";

function setup() {
  const state = { queued: 0, idle: 2, busy: 0, draining: false };
  const metrics = new HubMetrics({
    pools: () => [{ name: "default", ...state }],
  });
  const handler = createMetricsHandler({
    metrics,
    isDraining: () => state.draining,
    routes: { "/-/extra": () => new Response("extra") },
  });
  return { state, metrics, handler };
}

const get = (path: string) => new Request(`http://hub${path}`);

/** Reads SSE `data:` payloads from a stream until `n` have arrived. */
async function readEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  n: number,
): Promise<StatusSnapshot[]> {
  const out: StatusSnapshot[] = [];
  const dec = new TextDecoder();
  let buf = "";
  while (out.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of event.split("\n")) {
        if (line.startsWith("data: ")) out.push(JSON.parse(line.slice(6)));
      }
    }
  }
  return out;
}

Deno.test("metrics port: /metrics, /healthz, /readyz, extra routes, 404", async () => {
  const { state, metrics, handler } = setup();
  metrics.pool("default").finished(200, 0.1);
  const m = await handler.fetch(get("/metrics"));
  assert.equal(m.status, 200);
  assert.match(m.headers.get("content-type") ?? "", /^text\/plain/);
  const text = await m.text();
  assert.match(
    text,
    /^pothead_hub_requests_total\{pool="default",code="200"\} 1$/m,
  );
  assert.match(
    text,
    /^pothead_hub_workers\{pool="default",state="idle"\} 2$/m,
  );
  assert.equal(await (await handler.fetch(get("/healthz"))).text(), "ok\n");
  assert.equal((await handler.fetch(get("/readyz"))).status, 200);
  state.draining = true;
  assert.equal((await handler.fetch(get("/readyz"))).status, 503);
  assert.equal((await handler.fetch(get("/healthz"))).status, 200);
  assert.equal(await (await handler.fetch(get("/-/extra"))).text(), "extra");
  assert.equal((await handler.fetch(get("/nope"))).status, 404);
});

Deno.test("metrics port: the page and its assets are served by the hub", async () => {
  const { handler } = setup();
  const page = await handler.fetch(get("/"));
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  const html = await page.text();
  assert.match(html, /<script src="status.js"/);
  assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/); // nothing from elsewhere
  const js = await handler.fetch(get("/status.js"));
  assert.match(js.headers.get("content-type") ?? "", /javascript/);
  const src = await js.text();
  assert.match(src, /new EventSource\("events"\)/);
  new Function(src); // parses as a script
  const css = await handler.fetch(get("/status.css"));
  assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
  await css.body?.cancel();
});

Deno.test("metrics port: /status.json has the numbers of the pools", async () => {
  const { state, metrics, handler } = setup();
  const series = metrics.pool("default");
  series.queueWait(0.02);
  series.finished(200, 0.03);
  series.queueWait(0.04);
  series.finished(503, 0.04);
  state.busy = 1;
  state.idle = 1;
  handler.tick(5_000);
  const res = await handler.fetch(get("/status.json"));
  assert.equal(res.headers.get("content-type"), "application/json");
  const snap = await res.json() as StatusSnapshot;
  const p = snap.pools[0];
  assert.equal(p.name, "default");
  assert.deepEqual([p.queued, p.idle, p.busy], [0, 1, 1]);
  assert.deepEqual(p.totals, { waits: 2, responses: 2, errors: 1 });
  assert.equal(p.window.waits, 2);
  assert.ok(Math.abs(p.window.p50! - 20) < 2.5, String(p.window.p50));
  assert.ok(Math.abs(p.window.p99! - 40) < 4.5, String(p.window.p99));
  assert.equal(p.series.length, 1);
  assert.equal(p.series[0].t, 5);
});

Deno.test("metrics port: /events sends the history, then one new second per tick", async () => {
  const { state, metrics, handler } = setup();
  handler.tick(1_000);
  handler.tick(2_000);
  const res = await handler.fetch(get("/events"));
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.getReader();
  const [first] = await readEvents(reader, 1);
  assert.deepEqual(first.pools[0].series.map((s) => s.t), [1, 2]);
  assert.equal(handler.subscribers, 1);

  metrics.pool("default").finished(200, 0.1);
  state.queued = 3;
  handler.tick(3_000);
  const [next] = await readEvents(reader, 1);
  assert.deepEqual(next.pools[0].series.map((s) => s.t), [3]);
  assert.equal(next.pools[0].series[0].queued, 3);
  assert.equal(next.pools[0].totals.responses, 1);

  await reader.cancel();
  assert.equal(handler.subscribers, 0);
});

Deno.test("metrics port: close() ends every event stream; a reader far behind is dropped", async () => {
  const { handler } = setup();
  const slow = (await handler.fetch(get("/events"))).body!.getReader();
  for (let t = 1; t <= 40; t++) handler.tick(t * 1000);
  assert.equal(handler.subscribers, 0, "the unread stream was dropped");
  await slow.cancel();

  const r = (await handler.fetch(get("/events"))).body!.getReader();
  await readEvents(r, 1);
  handler.close();
  assert.equal(handler.subscribers, 0);
  assert.equal((await r.read()).done, true);
});

Deno.test("serveMetricsPort: shutdown ends open event streams", async () => {
  const metrics = new HubMetrics({ pools: () => [] });
  const server = serveMetricsPort({
    listen: { hostname: "127.0.0.1", port: 0 },
    metrics,
    isDraining: () => false,
    tickMs: 50,
  });
  const res = await fetch(`http://127.0.0.1:${server.addr.port}/events`);
  const reader = res.body!.getReader();
  await readEvents(reader, 2); // the first, and one from the timer
  await server.shutdown();
  while (!(await reader.read()).done) { /* drain */ }
});
