import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { randomKey, RedirectStore, serveRedirects } from "./redirect.ts";

/** A body that records whether it was cancelled. */
function trackedBody(chunks: string[]) {
  const state = { cancelled: false as boolean, reason: undefined as unknown };
  const enc = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      const next = chunks.shift();
      if (next === undefined) c.close();
      else c.enqueue(enc.encode(next));
    },
    cancel(reason) {
      state.cancelled = true;
      state.reason = reason;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

function store(clock = new ManualClock()) {
  let n = 0;
  return new RedirectStore({
    baseUrl: "http://worker:8081/",
    ttlMs: 1000,
    clock,
    newKey: () => `key${++n}`,
  });
}

Deno.test("randomKey: 128 bits, base64url, never the same twice", () => {
  const keys = new Set(Array.from({ length: 1000 }, randomKey));
  assert.equal(keys.size, 1000);
  for (const k of keys) assert.match(k, /^[A-Za-z0-9_-]{22}$/);
});

Deno.test("RedirectStore: only 200 is diverted", () => {
  const s = store();
  for (const status of [201, 204, 206, 301, 404, 500]) {
    assert.equal(
      s.divert(new Response(null, { status })),
      null,
      `status ${status}`,
    );
  }
  assert.equal(s.waiting, 0);
});

Deno.test("RedirectStore: 303 to base/key; one GET gets status, headers and body", async () => {
  const s = store();
  const { stream } = trackedBody(["hello ", "world"]);
  const d = s.divert(
    new Response(stream, {
      headers: {
        "content-type": "text/plain",
        "x-app": "1",
        "connection": "x-app",
        "keep-alive": "timeout=5",
      },
    }),
  )!;
  assert.equal(d.response.status, 303);
  assert.equal(d.response.headers.get("location"), "http://worker:8081/key1");
  assert.equal(s.waiting, 1);

  const res = s.handler(new Request("http://worker:8081/key1"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain");
  assert.equal(res.headers.get("x-app"), "1");
  assert.equal(res.headers.get("connection"), null);
  assert.equal(res.headers.get("keep-alive"), null);
  assert.equal(s.waiting, 0);
  assert.equal(await res.text(), "hello world");
  assert.deepEqual(await d.settled, { outcome: "delivered", bytes: 11 });

  const again = s.handler(new Request("http://worker:8081/key1"));
  assert.equal(again.status, 404);
});

Deno.test("RedirectStore: the key is the last path segment (a proxy may add a prefix)", async () => {
  const s = store();
  const d = s.divert(new Response("x"))!;
  const res = s.handler(new Request("http://lb/worker-3/key1"));
  assert.equal(await res.text(), "x");
  assert.equal((await d.settled).outcome, "delivered");
});

Deno.test("RedirectStore: unknown key 404, other methods 405", () => {
  const s = store();
  s.divert(new Response("x"));
  assert.equal(s.handler(new Request("http://w/nope")).status, 404);
  assert.equal(s.handler(new Request("http://w/")).status, 404);
  const post = s.handler(new Request("http://w/key1", { method: "POST" }));
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET");
  assert.equal(s.waiting, 1, "a refused method does not use the key");
});

Deno.test("RedirectStore: at the TTL an unclaimed body is cancelled and the key is gone", async () => {
  const clock = new ManualClock();
  const s = store(clock);
  const { stream, state } = trackedBody(["a", "b"]);
  const d = s.divert(new Response(stream))!;
  clock.advance(999);
  assert.equal(state.cancelled, false);
  clock.advance(1);
  assert.equal(state.cancelled, true);
  assert.deepEqual(await d.settled, { outcome: "expired", bytes: 0 });
  assert.equal(s.handler(new Request("http://w/key1")).status, 404);
});

Deno.test("RedirectStore: a claimed body is not cut at the TTL", async () => {
  const clock = new ManualClock();
  const s = store(clock);
  const { stream, state } = trackedBody(["slow ", "consumer"]);
  const d = s.divert(new Response(stream))!;
  const res = s.handler(new Request("http://w/key1"));
  clock.advance(5000);
  assert.equal(state.cancelled, false);
  assert.equal(await res.text(), "slow consumer");
  assert.equal((await d.settled).outcome, "delivered");
});

Deno.test("RedirectStore: a consumer that leaves mid-body cancels the app's stream", async () => {
  const s = store();
  const { stream, state } = trackedBody(["one", "two", "three"]);
  const d = s.divert(new Response(stream))!;
  const res = s.handler(new Request("http://w/key1"));
  const reader = res.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "one");
  await reader.cancel("gone");
  assert.equal(state.cancelled, true);
  assert.deepEqual(await d.settled, { outcome: "aborted", bytes: 3 });
});

Deno.test("RedirectStore: cancel() drops the body (the 303 could not be sent)", async () => {
  const s = store();
  const { stream, state } = trackedBody(["x"]);
  const d = s.divert(new Response(stream))!;
  d.cancel();
  assert.equal(state.cancelled, true);
  assert.equal((await d.settled).outcome, "dropped");
  assert.equal(s.handler(new Request("http://w/key1")).status, 404);
});

Deno.test("RedirectStore: a 200 without a body is delivered empty", async () => {
  const s = store();
  const d = s.divert(new Response(null, { headers: { "x-y": "z" } }))!;
  const res = s.handler(new Request("http://w/key1"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-y"), "z");
  assert.equal(await res.text(), "");
  assert.equal((await d.settled).outcome, "delivered");
});

Deno.test("RedirectStore: dropAll cancels every waiting body; settled() waits for all", async () => {
  const s = store();
  const a = trackedBody(["a"]);
  const b = trackedBody(["b"]);
  s.divert(new Response(a.stream));
  s.divert(new Response(b.stream));
  s.dropAll();
  await s.settled();
  assert.ok(a.state.cancelled && b.state.cancelled);
  assert.equal(s.waiting, 0);
});

Deno.test("serveRedirects: a client that disconnects mid-body cancels the app's stream", async () => {
  await using server = serveRedirects({
    listen: { hostname: "127.0.0.1", port: 0 },
    ttlMs: 10_000,
  });
  assert.equal(server.store.baseUrl, `http://127.0.0.1:${server.addr.port}`);
  let cancelled = false;
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      sent++;
      c.enqueue(new Uint8Array(64 * 1024));
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  const d = server.store.divert(new Response(body))!;
  const ac = new AbortController();
  const res = await fetch(d.response.headers.get("location")!, {
    signal: ac.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  ac.abort();
  const outcome = await d.settled;
  assert.equal(outcome.outcome, "aborted");
  assert.ok(cancelled);
  assert.ok(sent >= 1);
});
