import assert from "node:assert/strict";
import { systemClock } from "../clock.ts";
import { Logger } from "../log/logger.ts";
import { HubMetrics } from "../metrics/hub_metrics.ts";
import type { ByteConn, ByteListener } from "../net/byte_conn.ts";
import {
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
