/**
 * The worker port: the PTTH handshake (DESIGN.md, "Worker channel"; the
 * upgrade of draft-kazuho-ptth-ptth), after which the hub is the HTTP client
 * on the worker's connection; and the legacy port of the original protocol,
 * where an accepted connection is an idle worker at once.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { RequestHead } from "../http1/head.ts";
import { RequestParser } from "../http1/parser.ts";
import type { Logger } from "../log/logger.ts";
import type { HubMetrics } from "../metrics/hub_metrics.ts";
import type { ByteConn, ByteListener } from "../net/byte_conn.ts";
import { writeAll } from "../net/conn_reader.ts";
import { DeadlineQueue } from "./deadline_queue.ts";
import type { Pool } from "./pool.ts";
import { bearerMatches } from "./token.ts";
import { WorkerConn, type WorkerConnEvents } from "./worker_conn.ts";

/** The path a worker asks for in its handshake. */
export const PTTH_PATH = "/.well-known/pothead/v1/ptth";

/** What the listener needs from the hub. */
export interface WorkerPortContext {
  /** Pools by name. */
  pools: Map<string, Pool>;
  /** The token workers must present, or null. */
  token: string | null;
  /** Time source. */
  clock: Clock;
  /** Event log. */
  log: Logger;
  /** Series. */
  metrics: HubMetrics;
  /** A worker that has not completed its handshake in this time is dropped. @default {10000} */
  handshakeTimeoutMs: number;
  /** Called for every connection that joins a pool, and when it closes. */
  track(conn: WorkerConn, joined: boolean): void;
}

const encoder = new TextEncoder();

const SWITCHING = encoder.encode(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: ptth\r\nConnection: Upgrade\r\nALPN: http/1.1\r\n\r\n",
);

function refusal(status: number, reason: string, message: string): Uint8Array {
  const body = message + "\n";
  return encoder.encode(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function header(head: RequestHead, lowerName: string): string | null {
  for (const [n, v] of head.headers) {
    if (n.length === lowerName.length && n.toLowerCase() === lowerName) {
      return v;
    }
  }
  return null;
}

function peer(conn: ByteConn): string {
  const a = conn.remoteAddr as Deno.NetAddr;
  return a.hostname?.includes(":")
    ? `[${a.hostname}]:${a.port}`
    : `${a.hostname}:${a.port}`;
}

/** Printable, bounded: a worker name goes into logs and response headers. */
function cleanName(value: string | null, fallback: string): string {
  if (!value) return fallback;
  const clean = value.replace(/[^\x21-\x7e]/g, "").slice(0, 200);
  return clean || fallback;
}

/** Pause after a failed accept before accepting again. */
const ACCEPT_RETRY_MS = 100;

/**
 * Decides what a failed accept means. A closed listener ends the loop; any
 * other failure (out of file descriptors, a reset before accept) is logged,
 * and accepting resumes after a short pause: one bad moment must never stop
 * the hub taking workers, nor crash it.
 * @returns whether to accept again
 */
async function acceptFailed(
  err: unknown,
  port: string,
  ctx: WorkerPortContext,
): Promise<boolean> {
  if (
    err instanceof Deno.errors.BadResource ||
    err instanceof Deno.errors.Interrupted
  ) {
    return false;
  }
  ctx.log.error("accept failed", {
    port,
    reason: err instanceof Error ? err.message : String(err),
    retry_ms: ACCEPT_RETRY_MS,
  });
  await new Promise((r) => setTimeout(r, ACCEPT_RETRY_MS));
  return true;
}

/**
 * Serves the worker port: one handshake per accepted connection.
 * @param listener the listening socket
 * @param ctx the hub state
 * @returns resolves when the listener is closed
 */
export async function serveWorkerPort(
  listener: ByteListener,
  ctx: WorkerPortContext,
): Promise<void> {
  // One timer for the handshake deadlines of every connecting worker.
  const deadlines = new DeadlineQueue<ByteConn>(
    ctx.clock,
    ctx.handshakeTimeoutMs,
    closeQuietly,
  );
  for (;;) {
    try {
      for await (const conn of listener) void handshake(conn, ctx, deadlines);
      return;
    } catch (err) {
      if (!(await acceptFailed(err, "worker", ctx))) return;
    }
  }
}

function closeQuietly(conn: ByteConn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

async function refuse(
  conn: ByteConn,
  ctx: WorkerPortContext,
  result: string,
  status: number,
  reason: string,
  message: string,
): Promise<void> {
  ctx.metrics.workerConnection(result);
  ctx.log.warn("worker refused", {
    remote: peer(conn),
    result,
    status,
    reason: message,
  });
  await writeAll(conn, refusal(status, reason, message)).catch(() => {});
  closeQuietly(conn);
}

/**
 * A handshake is about 200 bytes: reads this size. Thousands of workers may
 * connect at once, and what a handshake holds while it waits for its bytes
 * outlives the young generation and stays in the hub's RSS (issue 6), so it
 * holds only this buffer: the parser is made once bytes are there.
 */
export const HANDSHAKE_READ_SIZE = 512;

async function handshake(
  conn: ByteConn,
  ctx: WorkerPortContext,
  deadlines: DeadlineQueue<ByteConn>,
): Promise<void> {
  try {
    await handshakeOrRefuse(conn, ctx, deadlines);
  } catch (err) {
    ctx.log.warn("worker handshake failed", {
      remote: peer(conn),
      reason: err instanceof Error ? err.message : String(err),
    });
    closeQuietly(conn);
  }
}

async function handshakeOrRefuse(
  conn: ByteConn,
  ctx: WorkerPortContext,
  deadlines: DeadlineQueue<ByteConn>,
): Promise<void> {
  const deadline = deadlines.add(conn);
  let head: RequestHead | null = null;
  let extra = false;
  try {
    let parser: RequestParser | null = null;
    while (!head) {
      const buf = new Uint8Array(HANDSHAKE_READ_SIZE);
      const n = await conn.read(buf);
      if (n === null) throw new Error("closed during the handshake");
      parser ??= new RequestParser({ maxHeadBytes: 8192, maxFields: 32 });
      const { events, remaining } = parser.feed(buf.subarray(0, n));
      for (const ev of events) if (ev.type === "head") head = ev.head;
      if (head && (remaining || events.some((e) => e.type === "data"))) {
        extra = true;
      }
    }
  } catch (err) {
    if (deadline.expired) {
      ctx.metrics.workerConnection("handshake-timeout");
      ctx.log.warn("worker refused", {
        remote: peer(conn),
        result: "handshake-timeout",
        reason: `no handshake within ${ctx.handshakeTimeoutMs} ms`,
      });
      return;
    }
    const msg = err instanceof Error ? err.message : String(err);
    return await refuse(
      conn,
      ctx,
      "bad-handshake",
      400,
      "Bad Request",
      `bad handshake: ${msg}`,
    );
  } finally {
    deadlines.done(deadline);
  }

  const upgrade = (header(head, "upgrade") ?? "").toLowerCase();
  const tokens = upgrade.split(",").map((t) => t.trim());
  if (
    head.method !== "GET" || head.target !== PTTH_PATH ||
    !(tokens.includes("ptth") || tokens.includes("ptth/1.0"))
  ) {
    return await refuse(
      conn,
      ctx,
      "bad-handshake",
      400,
      "Bad Request",
      `expected 'GET ${PTTH_PATH}' with 'Upgrade: ptth'; this port is for pothead workers`,
    );
  }
  if (extra) {
    return await refuse(
      conn,
      ctx,
      "bad-handshake",
      400,
      "Bad Request",
      "bytes after the handshake: a worker must wait for the 101",
    );
  }
  if (
    ctx.token !== null &&
    !bearerMatches(header(head, "authorization"), ctx.token)
  ) {
    return await refuse(
      conn,
      ctx,
      "unauthorized",
      401,
      "Unauthorized",
      "missing or wrong worker token (give the hub's token with --token-file or POTHEAD_WORKER_TOKEN)",
    );
  }
  const poolName = header(head, "pothead-pool") || "default";
  const pool = ctx.pools.get(poolName);
  if (!pool || pool.retired) {
    return await refuse(
      conn,
      ctx,
      "unknown-pool",
      404,
      "Not Found",
      `unknown pool '${poolName}' (pools: ${[...ctx.pools.keys()].join(", ")})`,
    );
  }
  await writeAll(conn, SWITCHING);
  ctx.metrics.workerConnection("accepted");
  const remote = peer(conn);
  join(
    conn,
    pool,
    cleanName(header(head, "pothead-worker"), remote),
    remote,
    false,
    ctx,
  );
}

/**
 * Serves the legacy port: every accepted connection is an idle worker of the
 * default pool that takes one request (sent with `Connection: close`).
 * @param listener the listening socket
 * @param pool the pool legacy workers serve, or a function that names it
 *   for each connection (it may change on a reload); none: the connection
 *   is closed
 * @param ctx the hub state
 * @returns resolves when the listener is closed
 */
export async function serveLegacyPort(
  listener: Deno.Listener,
  pool: Pool | (() => Pool | undefined),
  ctx: WorkerPortContext,
): Promise<void> {
  for (;;) {
    try {
      for await (const conn of listener) {
        const remote = peer(conn);
        const target = typeof pool === "function" ? pool() : pool;
        if (!target || target.retired) {
          ctx.metrics.workerConnection("unknown-pool");
          ctx.log.warn("worker refused", {
            remote,
            result: "unknown-pool",
            reason: "no pool in force for legacy workers",
          });
          conn.close();
          continue;
        }
        ctx.metrics.workerConnection("legacy");
        join(conn, target, remote, remote, true, ctx);
      }
      return;
    } catch (err) {
      if (!(await acceptFailed(err, "legacy", ctx))) return;
    }
  }
}

const sharedEvents = new WeakMap<Pool, WorkerConnEvents[]>();

/**
 * The owner callbacks of a pool's connections, made once per pool (and kind)
 * rather than once per connection: idle connections must stay cheap.
 */
function eventsFor(
  pool: Pool,
  legacy: boolean,
  ctx: WorkerPortContext,
): WorkerConnEvents {
  let pair = sharedEvents.get(pool);
  if (!pair) {
    const make = (legacy: boolean): WorkerConnEvents => ({
      onReusable: (c) => pool.release(c),
      onClosed: (c, reason) => {
        pool.forget(c);
        ctx.track(c, false);
        ctx.metrics.workerDisconnected(pool.name, c.closeCode);
        if (!legacy || reason !== "one request per connection") {
          ctx.log.info("worker disconnected", {
            worker: c.name,
            pool: pool.name,
            reason,
            code: c.closeCode,
            served: c.served,
          });
        }
      },
    });
    pair = [make(false), make(true)];
    sharedEvents.set(pool, pair);
  }
  return pair[legacy ? 1 : 0];
}

function join(
  conn: ByteConn,
  pool: Pool,
  name: string,
  remote: string,
  legacy: boolean,
  ctx: WorkerPortContext,
) {
  try {
    (conn as Deno.TcpConn).setNoDelay(true);
    (conn as Deno.TcpConn).setKeepAlive(true);
  } catch { /* not a TCP socket (tests may use others) */ }
  const wc = new WorkerConn(conn, {
    name,
    pool: pool.name,
    legacy,
    remote,
    clock: ctx.clock,
    events: eventsFor(pool, legacy, ctx),
  });
  ctx.track(wc, true);
  if (!legacy) {
    ctx.log.info("worker connected", { worker: name, pool: pool.name });
  }
  pool.release(wc);
}
