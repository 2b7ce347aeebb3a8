/**
 * The original protocol (issue 7, item 5; DESIGN.md, "Legacy port"): a
 * minimal worker written the way the original Python worker behaves dials
 * `--legacy-worker-listen`, waits without a handshake, answers the one
 * request it gets with `Connection: close`, closes, and dials again. The hub
 * must serve consumers through it correctly, and never spend such a
 * connection on anything but a consumer's request.
 */

import assert from "node:assert/strict";
import { startInprocHub } from "./inproc_hub.ts";
import { startHub } from "./processes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One request as the legacy worker read it. */
interface Seen {
  method: string;
  target: string;
  headers: Map<string, string>;
  body: string;
}

function indexOfCrlfCrlf(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    off += await conn.write(bytes.subarray(off));
  }
}

/**
 * The original worker, reduced to what it does on the wire: connect, wait,
 * read one request (head, then a `Content-Length` body), answer, close,
 * connect again. `answer` returns the raw response bytes.
 */
function legacyWorker(
  addr: string,
  answer: (req: Seen, n: number) => string,
  signal: AbortSignal,
): { seen: Seen[]; connects: () => number; done: Promise<void> } {
  const seen: Seen[] = [];
  let connects = 0;
  const [hostname, port] = addr.split(":");
  const done = (async () => {
    while (!signal.aborted) {
      const conn = await Deno.connect({ hostname, port: Number(port) });
      connects++;
      const onAbort = () => conn.close();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        let buf: Uint8Array = new Uint8Array(0);
        let end: number;
        const chunk = new Uint8Array(4096);
        while ((end = indexOfCrlfCrlf(buf)) < 0) {
          const n = await conn.read(chunk);
          if (n === null) throw new Error("hub closed before a request");
          buf = concat(buf, chunk.subarray(0, n));
        }
        const lines = decoder.decode(buf.subarray(0, end)).split("\r\n");
        const [method, target] = lines[0].split(" ");
        const headers = new Map<string, string>();
        for (const l of lines.slice(1)) {
          const i = l.indexOf(":");
          headers.set(
            l.slice(0, i).trim().toLowerCase(),
            l.slice(i + 1).trim(),
          );
        }
        const length = Number(headers.get("content-length") ?? 0);
        let body = buf.subarray(end + 4);
        while (body.length < length) {
          const n = await conn.read(chunk);
          if (n === null) throw new Error("hub closed during the body");
          body = concat(body, chunk.subarray(0, n));
        }
        const req = { method, target, headers, body: decoder.decode(body) };
        seen.push(req);
        await writeAll(conn, encoder.encode(answer(req, seen.length)));
      } catch (err) {
        if (!signal.aborted) throw err;
      } finally {
        signal.removeEventListener("abort", onAbort);
        try {
          conn.close();
        } catch { /* closed */ }
      }
    }
  })();
  return { seen, connects: () => connects, done };
}

/** A reply with Content-Length and Connection: close. */
function reply(body: string, status = "200 OK"): string {
  return `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${
    encoder.encode(body).length
  }\r\nConnection: close\r\n\r\n${body}`;
}

Deno.test("a worker of the original protocol is served: one request per connection, Connection: close both ways", async () => {
  await using hub = await startHub([
    "--legacy-worker-listen",
    "127.0.0.1:0",
  ]);
  const listening = await hub.waitFor((l) => l.msg === "hub listening");
  const stop = new AbortController();
  const worker = legacyWorker(String(listening.legacy), (req, n) => {
    if (req.target === "/eof") {
      // HTTP/1.0 style: no length, the body ends with the connection.
      return `HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close ${n}`;
    }
    if (req.method === "POST") return reply(`echo ${req.body}`);
    return reply(`hello ${req.target} ${n}`);
  }, stop.signal);
  try {
    const r1 = await fetch(`${hub.url}/first?x=1`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(r1.status, 200);
    assert.equal(await r1.text(), "hello /first?x=1 1");

    const r2 = await fetch(`${hub.url}/upload`, {
      method: "POST",
      body: "some bytes",
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(r2.status, 200);
    assert.equal(await r2.text(), "echo some bytes");

    const r3 = await fetch(`${hub.url}/eof`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(r3.status, 200);
    assert.equal(await r3.text(), "until close 3");

    // Sequential requests each took a connection of their own, and the hub
    // asked for the close itself (DESIGN.md: "the hub sends one request
    // with Connection: close").
    assert.equal(worker.seen.length, 3);
    for (const req of worker.seen) {
      assert.equal(req.headers.get("connection")?.toLowerCase(), "close");
      assert.ok(req.headers.get("x-request-id"));
      assert.ok(req.headers.get("x-forwarded-for"));
    }
    assert.ok(worker.connects() >= 3);

    // Several requests at once queue for the one worker, which serves them
    // one connection after another.
    const many = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        fetch(`${hub.url}/q${i}`, { signal: AbortSignal.timeout(10_000) })
          .then(async (r) => [r.status, await r.text()] as const)
      ),
    );
    for (const [status, text] of many) {
      assert.equal(status, 200);
      assert.match(text, /^hello \/q\d \d+$/);
    }
    assert.equal(worker.seen.length, 7);
  } finally {
    stop.abort();
    await worker.done;
  }
});

Deno.test("an idle connection of the original protocol is never probed: its one request is a consumer's", async () => {
  await using hub = await startInprocHub({
    legacyWorkerListen: { hostname: "127.0.0.1", port: 0 },
    probeIntervalMs: 50,
    probeTimeoutMs: 1000,
  });
  const legacyAddr = `127.0.0.1:${hub.hub.addr.legacy!.port}`;
  const stop = new AbortController();
  const worker = legacyWorker(
    legacyAddr,
    (req) => reply(`served ${req.method} ${req.target}`),
    stop.signal,
  );

  // A PTTH connection of another pool is probed on the same sweeps: once
  // it has answered two probes, the legacy connection has been idle through
  // them too.
  const [hostname, port] = hub.workerAddr.split(":");
  const ptth = await Deno.connect({ hostname, port: Number(port) });
  try {
    await writeAll(
      ptth,
      encoder.encode(
        "GET /.well-known/pothead/v1/ptth HTTP/1.1\r\nHost: hub\r\nUpgrade: ptth\r\nConnection: Upgrade\r\nPothead-Pool: hostile\r\n\r\n",
      ),
    );
    const buf = new Uint8Array(4096);
    let text = "";
    let probes = 0;
    while (probes < 2) {
      const n = await ptth.read(buf);
      assert.notEqual(n, null, "the hub closed the PTTH connection");
      text += decoder.decode(buf.subarray(0, n!));
      while (text.includes("OPTIONS * HTTP/1.1\r\n")) {
        const end = text.indexOf("\r\n\r\n", text.indexOf("OPTIONS *"));
        if (end < 0) break;
        text = text.slice(end + 4);
        probes++;
        await writeAll(ptth, encoder.encode("HTTP/1.1 204 No Content\r\n\r\n"));
      }
    }
    assert.equal(worker.seen.length, 0, "the legacy worker got a request");

    const res = await fetch(`${hub.url}/job`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "served GET /job");
    assert.equal(worker.seen.length, 1);
    assert.equal(worker.seen[0].target, "/job");
  } finally {
    ptth.close();
    stop.abort();
    await worker.done;
  }
});
