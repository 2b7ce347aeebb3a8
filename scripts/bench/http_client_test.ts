import assert from "node:assert/strict";
import { HttpConnection } from "./http_client.ts";
import { handle, Mutex } from "./job_app.ts";

Deno.test("raw client: keep-alive, content-length, chunked, upload", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      if (new URL(req.url).pathname === "/chunked") {
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode("abc"));
            c.enqueue(new TextEncoder().encode("defg"));
            c.close();
          },
        });
        return new Response(body);
      }
      return handle(req);
    },
  ) as Deno.HttpServer<Deno.NetAddr>;
  const c = await HttpConnection.open("127.0.0.1", server.addr.port);
  try {
    const a = await c.request({ path: "/hello", keepBody: true });
    assert.equal(a.status, 200);
    assert.equal(new TextDecoder().decode(a.body), "hello\n");
    const b = await c.request({ path: "/chunked", keepBody: true });
    assert.equal(new TextDecoder().decode(b.body), "abcdefg");
    assert.equal(b.bodyBytes, 7);
    const d = await c.request({ path: "/download?bytes=200000" });
    assert.equal(d.bodyBytes, 200000);
    assert.equal(d.body, undefined);
    const chunk = new Uint8Array(1000);
    const u = await c.request({
      method: "POST",
      path: "/upload",
      body: { chunks: [chunk, chunk, chunk.subarray(0, 5)], length: 2005 },
      keepBody: true,
    });
    assert.equal(new TextDecoder().decode(u.body).trim(), "2005");
    const j = await c.request({ path: "/job?ms=5" });
    assert.equal(j.status, 200);
    assert(Number(j.headers.get("x-job-us")) >= 5000);
    assert(c.reusable);
  } finally {
    c.close();
    await server.shutdown();
  }
});

Deno.test("mutex runs one at a time, in order", async () => {
  const m = new Mutex();
  const log: string[] = [];
  const job = (name: string, ms: number) =>
    m.run(async () => {
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}-`);
      return name;
    });
  const all = await Promise.all([job("a", 20), job("b", 1), job("c", 1)]);
  assert.deepEqual(all, ["a", "b", "c"]);
  assert.deepEqual(log, ["a+", "a-", "b+", "b-", "c+", "c-"]);
  assert.equal(m.run(() => 7), 7); // free gate: runs synchronously
});
