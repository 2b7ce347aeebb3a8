/**
 * The consumer side of the hub: a `(Request, info) => Promise<Response>`
 * handler, so tests can call it without a socket and only the start-up code
 * calls `Deno.serve`.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { HubMetrics } from "../metrics/hub_metrics.ts";
import {
  declaredLength,
  forwardedHeadProblem,
  transferCodingProblem,
} from "./consumer_limits.ts";
import { HubError } from "./errors.ts";
import {
  requestHeadersForWorker,
  requestIdOf,
  responseHeadersForConsumer,
} from "./forward_headers.ts";
import type { Acquired, Pool } from "./pool.ts";
import { RequestBody, SMALL_BODY_BYTES } from "./request_body.ts";
import {
  fairnessKeyOf,
  PRIORITY_HEADER,
  requestPriority,
  type Router,
} from "./router.ts";
import { WorkerFailure, type WorkerResponse } from "./worker_conn.ts";

/** The hub state the handler reads on each request. */
export interface ConsumerContext {
  /** Routes requests to pools; replaced on reload. */
  router: Router;
  /** Pools by name. */
  pools: Map<string, Pool>;
  /** Set once the hub drains: new requests get 503 `draining`. */
  draining: boolean;
  /** `--max-body-size` in bytes. */
  maxBodySize: number;
  /** `http` or `https`. */
  proto: string;
  /** Time source. */
  clock: Clock;
  /** Access log and event log. */
  log: Logger;
  /** Series. */
  metrics: HubMetrics;
}

/** Status logged for a request whose consumer went away (as nginx does). */
export const CLIENT_CLOSED = 499;

interface Outcome {
  status: number;
  pool: string;
  worker: string;
  queueMs: number;
  error?: string;
}

/**
 * Makes the consumer handler.
 * @param ctx the hub state
 * @returns the handler for `Deno.serve`
 */
export function createConsumerHandler(
  ctx: ConsumerContext,
): (req: Request, info: Deno.ServeHandlerInfo) => Promise<Response> {
  return async (req, info) => {
    const start = ctx.clock.now();
    const requestId = requestIdOf(req.headers.get("x-request-id"));
    const url = req.url;
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const target = pathStart < 0 ? "/" : url.slice(pathStart);
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    const addr = info.remoteAddr as Deno.NetAddr;
    const clientAddress = addr.hostname ?? "unknown";
    const outcome: Outcome = { status: 0, pool: "-", worker: "-", queueMs: 0 };
    let body: RequestBody | null = null;
    let bytesOut = { n: 0 };

    const finish = () => {
      const seconds = (ctx.clock.now() - start) / 1000;
      if (outcome.pool !== "-") {
        ctx.metrics.pool(outcome.pool).finished(outcome.status, seconds);
      }
      ctx.log.info("request", {
        id: requestId,
        pool: outcome.pool,
        method: req.method,
        path,
        status: outcome.status,
        in: body?.bytesRead ?? 0,
        out: bytesOut.n,
        queue_ms: round(outcome.queueMs),
        worker: outcome.worker,
        ms: round(seconds * 1000),
        client: clientAddress,
        error: outcome.error,
      });
    };

    const fail = (err: HubError): Response => {
      outcome.status = err.status;
      outcome.error = err.code;
      if (outcome.pool !== "-") {
        ctx.metrics.pool(outcome.pool).rejected(err.code);
      }
      const res = err.toResponse(requestId);
      bytesOut.n = err.code.length + err.message.length + 3;
      finish();
      return res;
    };

    if (ctx.draining) {
      return fail(new HubError("draining", "the hub is shutting down"));
    }
    const match = ctx.router.match(req.headers.get("host"), path);
    const pool = match ? ctx.pools.get(match.pool) : undefined;
    if (!match || !pool || pool.retired) {
      return fail(
        new HubError(
          "no-route",
          `no route for ${req.headers.get("host") ?? ""}${path}`,
        ),
      );
    }
    outcome.pool = pool.name;
    const declared = req.headers.get("content-length");
    const length = declaredLength(declared);
    if (length !== null && length > ctx.maxBodySize) {
      return fail(
        new HubError(
          "body-too-large",
          `request body of ${length} bytes exceeds --max-body-size (${ctx.maxBodySize} bytes)`,
        ),
      );
    }
    if (req.body) {
      body = new RequestBody(req.body, length, { maxBytes: ctx.maxBodySize });
    }
    const headers = requestHeadersForWorker(req.headers, {
      clientAddress,
      proto: ctx.proto,
      requestId,
    });
    const tooLarge = forwardedHeadProblem(req.method, target, headers);
    if (tooLarge !== null) {
      body?.cancel();
      return fail(new HubError("headers-too-large", tooLarge));
    }
    const coding = transferCodingProblem(req.headers.get("transfer-encoding"));
    if (coding !== null) {
      body?.cancel();
      return fail(new HubError("bad-request", coding));
    }
    if (body && length !== null && length <= SMALL_BODY_BYTES) {
      // Read a small body before queueing: a slow uploader then holds only
      // its own request, never a worker waiting for the rest of its body.
      try {
        await body.readSmall(SMALL_BODY_BYTES);
      } catch (err) {
        if (err instanceof HubError) return fail(err);
        return gone();
      }
    }
    const route = match.route;
    const priority = requestPriority(route, req.headers.get(PRIORITY_HEADER));
    const fairnessKey = fairnessKeyOf(route, req.headers, clientAddress);
    const signal = req.signal;
    const series = ctx.metrics.pool(pool.name);

    let deadline: number | undefined;
    // Declines (many hubs, issue 7) neither count as an attempt nor end the
    // request: each one closed a connection, and the queue deadline bounds
    // the wait.
    let declined = 0;
    for (let attempt = 0;; attempt++) {
      let acquired: Acquired;
      try {
        acquired = await pool.acquire({
          priority,
          fairnessKey,
          signal,
          front: attempt > 0 || declined > 0,
          deadline,
          now: attempt === 0 && declined === 0 ? start : undefined,
        });
      } catch (err) {
        if (err instanceof HubError) return fail(err);
        return gone();
      }
      const conn = acquired.conn;
      const now = ctx.clock.now();
      const waited = now - acquired.since;
      outcome.queueMs += waited;
      if (signal.aborted) {
        pool.release(conn);
        return gone();
      }
      outcome.worker = conn.name;
      const onAbort = () =>
        conn.close(
          "consumer went away before the response head",
          "consumer-gone",
        );
      let res: WorkerResponse;
      try {
        // The request goes out first (exchange writes the head before its
        // first await, unless it reads a small body); the bookkeeping below
        // runs while the worker works.
        const exchanged = conn.exchange(
          {
            method: req.method,
            target,
            headers: headers.slice(),
            body,
            close: conn.legacy,
          },
          pool.settings.responseTimeoutMs,
          bytesOut = { n: 0 },
          now,
        );
        signal.addEventListener("abort", onAbort, { once: true });
        if (attempt === 0 && declined === 0) series.queueWait(waited / 1000);
        res = await exchanged;
      } catch (err) {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) return gone();
        if (err instanceof HubError) return fail(err);
        const failure = err instanceof WorkerFailure
          ? err
          : new WorkerFailure("internal", String(err), true);
        if (
          failure.reason === "declined" && (body === null || body.replayable)
        ) {
          // The worker's slot took another hub's job at the same moment:
          // back to the front of the queue with the same deadline; neither a
          // failure nor a re-dispatch.
          declined++;
          deadline = acquired.deadline;
          attempt--;
          continue;
        }
        if (failure.reason === "response-timeout") {
          return fail(
            new HubError(
              "response-timeout",
              `worker ${conn.name} sent no response head within ${pool.settings.responseTimeoutMs} ms`,
            ),
          );
        }
        if (
          attempt === 0 && !failure.responseStarted &&
          (body === null || body.replayable)
        ) {
          series.redispatched();
          ctx.log.warn("request redispatched", {
            id: requestId,
            pool: pool.name,
            worker: conn.name,
            reason: failure.message,
          });
          deadline = acquired.deadline;
          continue;
        }
        return fail(
          new HubError(
            "worker-failed",
            `worker ${conn.name} failed before the response head: ${failure.message}`,
          ),
        );
      }
      signal.removeEventListener("abort", onAbort);
      const status = res.head.status;
      if (status < 200 || status > 599) {
        conn.close(`worker answered with status ${status}`, "protocol-error");
        return fail(
          new HubError(
            "worker-failed",
            `worker ${conn.name} answered with status ${status}`,
          ),
        );
      }
      const out = responseHeadersForConsumer(res.head.headers, {
        requestId,
        worker: conn.name,
        queueMs: round(outcome.queueMs),
        wholeBody: res.body instanceof Uint8Array,
      });
      outcome.status = status;
      if (res.body instanceof ReadableStream) {
        info.completed.then(finish, finish);
      } else {
        if (res.body) bytesOut.n = res.body.length;
        finish();
      }
      // No statusText: Deno.serve writes the standard reason phrase anyway,
      // and checking the worker's costs time on every response.
      return new Response(res.body as BodyInit | null, {
        status,
        headers: out,
      });
    }

    function gone(): Response {
      body?.cancel();
      outcome.status = CLIENT_CLOSED;
      outcome.error = "client-closed";
      finish();
      return new Response(null, { status: 503 });
    }
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
