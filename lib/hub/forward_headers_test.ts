import assert from "node:assert/strict";
import {
  requestHeadersForWorker,
  responseHeadersForConsumer,
} from "./forward_headers.ts";

Deno.test("response fields: end-to-end ones in order, hop-by-hop and Connection-named ones dropped", () => {
  const out = responseHeadersForConsumer([
    ["Content-Type", "text/plain"],
    ["Set-Cookie", "a=1"],
    ["Connection", "keep-alive, X-Hop"],
    ["x-hop", "secret"],
    ["Transfer-Encoding", "chunked"],
    ["Set-Cookie", "b=2"],
  ], { requestId: "id-1", worker: "w/1/0", queueMs: 1.5 });
  assert.deepEqual(out, [
    ["Content-Type", "text/plain"],
    ["Set-Cookie", "a=1"],
    ["Set-Cookie", "b=2"],
    ["x-request-id", "id-1"],
    ["pothead-worker", "w/1/0"],
    ["server-timing", "queue;dur=1.5"],
  ]);
});

Deno.test("response fields: the hub's request id and worker name replace the worker's; its Server-Timing stays", async () => {
  const out = responseHeadersForConsumer([
    ["X-Request-Id", "forged"],
    ["Pothead-Worker", "someone-else"],
    ["Server-Timing", "app;dur=3"],
  ], { requestId: "id-2", worker: "w/2/0", queueMs: 0 });
  const res = new Response("x", { headers: out });
  assert.equal(res.headers.get("x-request-id"), "id-2");
  assert.equal(res.headers.get("pothead-worker"), "w/2/0");
  assert.equal(res.headers.get("server-timing"), "app;dur=3, queue;dur=0");
  await res.body?.cancel();
});

Deno.test("request fields: sorted and combined as Headers gives them, framing and forged forwarding fields replaced", () => {
  const h = new Headers();
  h.append("Host", "example.com");
  h.append("X-Forwarded-For", "1.2.3.4");
  h.append("X-Forwarded-Proto", "https");
  h.append("Content-Length", "3");
  h.append("Accept", "a");
  h.append("Accept", "b");
  h.append("Connection", "x-secret");
  h.append("X-Secret", "1");
  const out = requestHeadersForWorker(h, {
    clientAddress: "10.0.0.1",
    proto: "http",
    requestId: "r",
  });
  assert.deepEqual(out, [
    ["accept", "a, b"],
    ["host", "example.com"],
    ["x-forwarded-for", "1.2.3.4, 10.0.0.1"],
    ["x-forwarded-proto", "http"],
    ["x-forwarded-host", "example.com"],
    ["x-request-id", "r"],
  ]);
});

Deno.test("response fields: a body handed on whole leaves the worker's Content-Length to Deno.serve", () => {
  const pairs: [string, string][] = [
    ["Content-Length", "2"],
    ["content-type", "text/plain"],
  ];
  const add = { requestId: "i", worker: "w", queueMs: 0 };
  assert.deepEqual(
    responseHeadersForConsumer(pairs, { ...add, wholeBody: true }).map((
      [n],
    ) => n),
    ["content-type", "x-request-id", "pothead-worker", "server-timing"],
  );
  // A streamed body or a HEAD response: the worker's length is what counts.
  assert.equal(responseHeadersForConsumer(pairs, add)[0][0], "Content-Length");
});
