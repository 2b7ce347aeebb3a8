import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import type { ByteConn } from "../net/byte_conn.ts";
import { WorkerConn, type WorkerResponse } from "./worker_conn.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A socket fed by the test: each `answer` is what one read returns. */
class ScriptedConn implements ByteConn {
  readonly remoteAddr: Deno.Addr = {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 1,
  };
  written: string[] = [];
  closed = false;
  #chunks: Uint8Array[] = [];
  #waiting: ((n: number | null) => void) | null = null;
  #into: Uint8Array | null = null;

  /** Makes `text` the result of the pending or the next read. */
  answer(text: string): void {
    this.#chunks.push(enc.encode(text));
    this.#deliver();
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#into = p;
      this.#deliver();
    });
  }

  write(p: Uint8Array): Promise<number> {
    this.written.push(dec.decode(p));
    return Promise.resolve(p.length);
  }

  close(): void {
    this.closed = true;
    this.#waiting?.(null);
    this.#waiting = null;
  }

  #deliver(): void {
    const resolve = this.#waiting;
    const into = this.#into;
    const next = this.#chunks[0];
    if (!resolve || !into || !next) return;
    const n = Math.min(into.length, next.length);
    into.set(next.subarray(0, n));
    if (n === next.length) this.#chunks.shift();
    else this.#chunks[0] = next.subarray(n);
    this.#waiting = null;
    this.#into = null;
    resolve(n);
  }
}

function workerConn(
  conn: ByteConn,
  events: string[],
): WorkerConn {
  return new WorkerConn(conn, {
    name: "w/1/0",
    pool: "default",
    legacy: false,
    remote: "127.0.0.1:1",
    clock: new ManualClock(),
    events: {
      onReusable: () => events.push("reusable"),
      onClosed: (_c, reason) => events.push(`closed: ${reason}`),
    },
  });
}

function get(target: string) {
  return { method: "GET", target, headers: [], body: null, close: false };
}

async function text(body: WorkerResponse["body"]): Promise<string> {
  if (body === null) return "";
  if (body instanceof Uint8Array) return dec.decode(body);
  return await new Response(body).text();
}

Deno.test("worker conn: a body that came whole stays intact while later responses are read", async () => {
  const events: string[] = [];
  const sockets = [new ScriptedConn(), new ScriptedConn()];
  const conns = sockets.map((s) => workerConn(s, events));
  const bodies: WorkerResponse["body"][] = [];
  for (let i = 0; i < 6; i++) {
    const s = sockets[i % 2];
    const pending = conns[i % 2].exchange(get(`/${i}`), 10_000);
    const body = `body number ${i} `.repeat(i + 1);
    s.answer(
      `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    const res = await pending;
    assert.ok(res.body instanceof Uint8Array);
    bodies.push(res.body);
  }
  for (let i = 0; i < 6; i++) {
    assert.equal(await text(bodies[i]), `body number ${i} `.repeat(i + 1));
  }
  assert.deepEqual(events, Array(6).fill("reusable"));
});

Deno.test("worker conn: the connection is handed back before the exchange resolves", async () => {
  const events: string[] = [];
  const s = new ScriptedConn();
  const wc = workerConn(s, events);
  const pending = wc.exchange(get("/"), 10_000).then((res) => {
    events.push("resolved");
    return res;
  });
  s.answer("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  assert.equal(await text((await pending).body), "ok");
  assert.deepEqual(events, ["reusable", "resolved"]);
});

Deno.test("worker conn: the start of a streamed body is kept when the read buffer serves the next head", async () => {
  const events: string[] = [];
  const a = new ScriptedConn();
  const b = new ScriptedConn();
  const wa = workerConn(a, events);
  const wb = workerConn(b, events);
  const pa = wa.exchange(get("/a"), 10_000);
  a.answer("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nfirst");
  const ra = await pa;
  assert.ok(ra.body instanceof ReadableStream);
  // Another head read while the first body's start waits in its stream.
  const pb = wb.exchange(get("/b"), 10_000);
  b.answer("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nXXXXX");
  assert.equal(await text((await pb).body), "XXXXX");
  a.answer("-rest");
  assert.equal(await text(ra.body), "first-rest");
});

Deno.test("worker conn: bytes after a complete response close the connection", async () => {
  const events: string[] = [];
  const s = new ScriptedConn();
  const wc = workerConn(s, events);
  const pending = wc.exchange(get("/"), 10_000);
  s.answer(
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n",
  );
  assert.equal(await text((await pending).body), "ok");
  assert.deepEqual(events, [
    "closed: worker sent bytes after the response",
  ]);
});
