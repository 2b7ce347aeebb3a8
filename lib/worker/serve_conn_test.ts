import assert from "node:assert/strict";
import { ConnReader } from "../net/conn_reader.ts";
import type { PotheadApp } from "./app.ts";
import { type JobRecord, serveConnection } from "./serve_conn.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A loopback connection: the test plays the hub, `serveConnection` the worker. */
async function connect(app: PotheadApp) {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const hubSide = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const workerSide = await listener.accept();
  const jobs: JobRecord[] = [];
  const served = serveConnection(workerSide, new ConnReader(workerSide), {
    app,
    info: {
      pool: "default",
      hub: "test",
      worker: "h/1/0",
      resetReservation: () => {},
    },
    oneJob: () => false,
    onJobEnd: (job) => jobs.push(job),
  });
  let buffered = "";
  let pendingRead: Promise<number | null> | null = null;
  /** Reads one response with a Content-Length body. */
  const response = async (): Promise<{ head: string; body: string }> => {
    const buf = new Uint8Array(65536);
    for (;;) {
      const end = buffered.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = buffered.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length >= end + 4 + length) {
          const body = buffered.slice(end + 4, end + 4 + length);
          buffered = buffered.slice(end + 4 + length);
          return { head, body };
        }
      }
      const n = await hubSide.read(buf);
      if (n === null) throw new Error("the worker closed the connection");
      buffered += decoder.decode(buf.subarray(0, n));
    }
  };
  return {
    send: (text: string) => hubSide.write(encoder.encode(text)),
    /** One raw read from the worker (pending reads carry over). */
    hubRead(buf: Uint8Array): Promise<number | null> {
      pendingRead ??= hubSide.read(buf).then((n) => {
        pendingRead = null;
        return n;
      }, () => null);
      return pendingRead;
    },
    response,
    jobs,
    async close() {
      hubSide.close();
      await served;
      try {
        workerSide.close();
      } catch { /* closed */ }
    },
  };
}

const post = (path: string, body: string) =>
  `POST ${path} HTTP/1.1\r\nHost: w\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

Deno.test("serveConnection: body bytes that came with the head stay the app's after its job", async () => {
  // The app keeps a body chunk beyond its job. The read buffer those bytes
  // arrived in is used again for the next requests, so they must have been
  // copied out of it.
  let kept: Uint8Array | null = null;
  const app: PotheadApp = {
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/keep") {
        const r = req.body!.getReader();
        kept = (await r.read()).value!;
        return new Response("kept\n");
      }
      if (path === "/show") return new Response(decoder.decode(kept!));
      return new Response(await req.text());
    },
  };
  const c = await connect(app);
  try {
    await c.send(post("/keep", "A".repeat(3000)));
    assert.equal((await c.response()).body, "kept\n");
    for (let i = 0; i < 3; i++) {
      await c.send(post("/other", String(i).repeat(3000)));
      assert.equal((await c.response()).body, String(i).repeat(3000));
    }
    await c.send("GET /show HTTP/1.1\r\nHost: w\r\n\r\n");
    assert.equal((await c.response()).body, "A".repeat(3000));
    assert.deepEqual(c.jobs.map((j) => j.status), [200, 200, 200, 200, 200]);
  } finally {
    await c.close();
  }
});

Deno.test("serveConnection: the fields the worker reads, whatever their case; response fields as the app set them, framing the worker's", async () => {
  const c = await connect({
    fetch(req, info) {
      const headers = new Headers([
        ["Set-Cookie", "a=1"],
        ["Set-Cookie", "b=2"],
        ["Connection", "keep-alive"],
        ["X-Seen", `${info.requestId} ${info.consumerAddress} ${req.url}`],
      ]);
      return new Response("hi\n", { headers });
    },
  });
  try {
    await c.send(
      "GET /p?q=1 HTTP/1.1\r\nHOST: example.test:81\r\nx-Request-ID: r-1\r\n" +
        "X-FORWARDED-FOR: 10.0.0.1, 10.0.0.2\r\n\r\n",
    );
    const { head, body } = await c.response();
    assert.equal(body, "hi\n");
    const lines = head.split("\r\n").slice(1).map((l) => l.toLowerCase());
    assert.deepEqual(lines.filter((l) => l.startsWith("set-cookie")), [
      "set-cookie: a=1",
      "set-cookie: b=2",
    ]);
    assert(!lines.some((l) => l.startsWith("connection")));
    assert(lines.includes("content-length: 3"));
    assert(
      lines.includes("x-seen: r-1 10.0.0.2 http://example.test:81/p?q=1"),
    );
  } finally {
    await c.close();
  }
});

Deno.test("serveConnection: a request the app's Request cannot hold is answered 400 and the connection closed", async () => {
  let called = false;
  const c = await connect({
    fetch() {
      called = true;
      return new Response("no\n");
    },
  });
  try {
    await c.send("GET /p HTTP/1.1\r\nHost: bad host\r\n\r\n");
    const { head, body } = await c.response();
    assert.match(head, /^HTTP\/1\.1 400 /);
    assert.match(body, /^bad request: /);
    assert.match(head.toLowerCase(), /\r\nconnection: close(\r\n|$)/);
    assert(!called);
  } finally {
    await c.close();
  }
});

Deno.test("serveConnection: a body that came whole with the head reaches the app whole, however it was framed", async () => {
  const c = await connect({
    async fetch(req) {
      if (new URL(req.url).pathname === "/reader") {
        const parts: string[] = [];
        const r = req.body!.getReader();
        for (let x = await r.read(); !x.done; x = await r.read()) {
          parts.push(decoder.decode(x.value));
        }
        return new Response(parts.join(""));
      }
      return new Response(`${req.headers.get("content-type")} ${await req
        .text()}`);
    },
  });
  try {
    await c.send(post("/text", "hello"));
    assert.equal((await c.response()).body, "null hello");
    await c.send(post("/reader", "x".repeat(5000)));
    assert.equal((await c.response()).body, "x".repeat(5000));
    await c.send(
      "POST /text HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n" +
        "Content-Type: text/x-a\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
    );
    assert.equal((await c.response()).body, "text/x-a abcdefg");
    assert.deepEqual(c.jobs.map((j) => j.status), [200, 200, 200]);
  } finally {
    await c.close();
  }
});

Deno.test("serveConnection: the first chunk of a streamed body goes out before the app has the next one", async () => {
  // A job that streams progress: one chunk, then a long computation. The head
  // and that chunk must reach the hub at once (else the consumer sees nothing
  // and the hub's response timeout runs), with or without a declared length.
  for (const declared of [false, true]) {
    let release = () => {};
    const later = new Promise<void>((r) => release = r);
    const c = await connect({
      fetch() {
        const body = new ReadableStream<Uint8Array>({
          async start(ctrl) {
            ctrl.enqueue(encoder.encode("started\n"));
            await later;
            ctrl.enqueue(encoder.encode("done\n"));
            ctrl.close();
          },
        });
        return new Response(body, {
          headers: declared ? { "content-length": "13" } : {},
        });
      },
    });
    try {
      await c.send("GET /progress HTTP/1.1\r\nHost: w\r\n\r\n");
      let seen = "";
      const buf = new Uint8Array(4096);
      // Bounded: the worker gets up to 5 s to send the first chunk, while the
      // app holds the rest back.
      const deadline = Date.now() + 5000;
      while (!seen.includes("started") && Date.now() < deadline) {
        const n = await Promise.race([
          c.hubRead(buf),
          new Promise<null>((r) => setTimeout(() => r(null), 250)),
        ]);
        if (n) seen += decoder.decode(buf.subarray(0, n));
      }
      release();
      assert.match(seen, /^HTTP\/1\.1 200/, `declared=${declared}`);
      assert.ok(seen.includes("started\n"), `declared=${declared}: ${seen}`);
      assert.equal(
        /content-length: 13/i.test(seen),
        declared,
        `declared=${declared}: ${seen}`,
      );
    } finally {
      release();
      await c.close();
    }
  }
});
