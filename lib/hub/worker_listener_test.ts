import assert from "node:assert/strict";
import { ManualClock, systemClock } from "../clock.ts";
import { Logger } from "../log/logger.ts";
import { HubMetrics } from "../metrics/hub_metrics.ts";
import type { ByteConn, ByteListener } from "../net/byte_conn.ts";
import {
  HANDSHAKE_READ_SIZE,
  serveLegacyPort,
  serveWorkerPort,
  type WorkerPortContext,
} from "./worker_listener.ts";
import type { Pool } from "./pool.ts";

/**
 * A listener whose first accept fails as `accept(2)` does when the process
 * is out of file descriptors, and whose second iteration finds it closed.
 */
function flakyListener(): ByteListener & { iterations: number } {
  const l = {
    iterations: 0,
    addr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } as Deno.Addr,
    close() {},
    async *[Symbol.asyncIterator](): AsyncGenerator<ByteConn> {
      l.iterations++;
      if (l.iterations === 1) {
        throw new Error("Too many open files (os error 24)");
      }
      // Closed: the iteration ends without a connection.
      yield* [];
    },
  };
  return l;
}

function context(lines: string[]): WorkerPortContext {
  return {
    pools: new Map<string, Pool>(),
    token: null,
    clock: systemClock,
    log: new Logger({ format: "json", sink: (l) => lines.push(l) }),
    metrics: new HubMetrics({ pools: () => [] }),
    handshakeTimeoutMs: 1000,
    track() {},
  } as unknown as WorkerPortContext;
}

Deno.test("a failed accept on the worker port is logged and accepting resumes", async () => {
  const lines: string[] = [];
  const listener = flakyListener();
  await serveWorkerPort(listener, context(lines));
  assert.equal(listener.iterations, 2, "accepting did not resume");
  const failed = lines.map((l) => JSON.parse(l)).find((l) =>
    l.msg === "accept failed"
  );
  assert.equal(failed?.port, "worker");
  assert.match(failed?.reason, /Too many open files/);
});

Deno.test("a failed accept on the legacy port is logged and accepting resumes", async () => {
  const lines: string[] = [];
  const listener = flakyListener();
  await serveLegacyPort(
    listener as unknown as Deno.Listener,
    () => undefined,
    context(lines),
  );
  assert.equal(listener.iterations, 2);
  assert.ok(lines.some((l) => JSON.parse(l).msg === "accept failed"));
});

/** A connection whose reads wait until the test lets the handshake in. */
function heldConn(bytes: Uint8Array, sizes: number[]) {
  let release = () => {};
  const arrived = new Promise<void>((r) => release = r);
  let closed = false;
  const written: Uint8Array[] = [];
  const conn: ByteConn & { written: Uint8Array[]; closed(): boolean } = {
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 9 },
    written,
    closed: () => closed,
    async read(p) {
      sizes.push(p.length);
      await arrived;
      if (closed) return null;
      p.set(bytes);
      return bytes.length;
    },
    write(p) {
      written.push(p.slice());
      return Promise.resolve(p.length);
    },
    close() {
      closed = true;
      release();
    },
  };
  return { conn, release };
}

Deno.test("handshakes in flight share one timer and read into small buffers", async () => {
  const clock = new ManualClock();
  const lines: string[] = [];
  const ctx = { ...context(lines), clock };
  const hello = new TextEncoder().encode(
    "GET /.well-known/pothead/v1/ptth HTTP/1.1\r\nHost: hub\r\nUpgrade: ptth\r\nPothead-Pool: none\r\n\r\n",
  );
  const sizes: number[] = [];
  const held = Array.from({ length: 100 }, () => heldConn(hello, sizes));
  const listener = {
    addr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } as Deno.Addr,
    close() {},
    async *[Symbol.asyncIterator](): AsyncGenerator<ByteConn> {
      for (const h of held) yield h.conn;
    },
  };
  await serveWorkerPort(listener, ctx);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(sizes.length, 100, "every handshake is reading");
  // Before, each handshake armed a timer of its own (issue 6).
  assert.equal(clock.pending, 1, "one timer for 100 handshakes");
  assert.ok(sizes.every((n) => n <= HANDSHAKE_READ_SIZE));
  // Half of them answer (and are refused: no such pool); the rest time out.
  for (const h of held.slice(0, 50)) h.release();
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(held.slice(0, 50).every((h) => h.conn.closed()));
  assert.ok(held.slice(50).every((h) => !h.conn.closed()));
  assert.equal(clock.pending, 1);
  clock.advance(1000);
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(held.every((h) => h.conn.closed()));
  assert.equal(clock.pending, 0, "no timer left");
  const results = lines.map((l) => JSON.parse(l)).filter((l) =>
    l.msg === "worker refused"
  ).map((l) => l.result);
  assert.equal(results.filter((r) => r === "unknown-pool").length, 50);
  assert.equal(results.filter((r) => r === "handshake-timeout").length, 50);
});
