/**
 * Mixed consumer load against a hub serving `tests/fixtures/recording_app.ts`,
 * with every outcome checked: the worker's response (its body verified), an
 * error from DESIGN.md's table, an aborted body, or — never allowed — no
 * outcome at all within the request's bound. Shared by the fault injection
 * test and `scripts/soak.ts`.
 *
 * @module
 */

import { mulberry32 } from "../scripts/bench/prng.ts";

/** A request of the mix. */
export interface RequestSpec {
  /** Sent as `X-Request-Id`; the app records it when it runs the job. */
  id: string;
  /** Method. */
  method: "GET" | "POST";
  /** Path and query. */
  path: string;
  /** Body to send, or null. */
  body: Uint8Array<ArrayBuffer> | null;
  /** Checks a complete 200 body. */
  verify(body: Uint8Array): boolean;
}

/** How a request ended. */
export type OutcomeKind =
  /** The worker's response, body complete and correct. */
  | "ok"
  /** An error the hub answered itself (DESIGN.md table). */
  | "hub-error"
  /** The response head came, then the body was cut off. */
  | "aborted-body"
  /** The hub could not be reached to send the request (not lost: never sent). */
  | "refused"
  /** A 200 whose body is not what the app sent. */
  | "bad-body"
  /** A status or error the contract does not allow. */
  | "unexpected"
  /** Nothing within the bound, or the connection died after sending. */
  | "lost";

/** One request's outcome. */
export interface Outcome {
  /** The request. */
  spec: RequestSpec;
  /** How it ended. */
  kind: OutcomeKind;
  /** HTTP status, 0 when none. */
  status: number;
  /** `Pothead-Error`, or a transport error name. */
  error: string | null;
  /** Milliseconds from send to end. */
  ms: number;
  /** Bytes of the request body (the spec's body may be dropped to save memory). */
  bodyLength: number;
}

/** The `Pothead-Error` codes of DESIGN.md, "What a consumer sees". */
export const DESIGN_ERRORS: Record<string, number> = {
  "queue-full": 503,
  "body-too-large": 413,
  "queue-timeout": 503,
  "no-route": 404,
  "worker-failed": 502,
  "response-timeout": 504,
  "draining": 503,
  "headers-too-large": 431,
};

/** A small seeded PRNG (mulberry32), so a failing mix can be replayed. */
export const rng: (seed: number) => () => number = mulberry32;

function pattern(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const dec = new TextDecoder();

/**
 * The next request of the mix: quick and slow jobs, small and large uploads
 * (some beyond the 64 KiB replay buffer), large and dripping downloads.
 * @param prefix id prefix
 * @param n sequence number
 * @param random the PRNG
 * @returns the request
 */
export function nextRequest(
  prefix: string,
  n: number,
  random: () => number,
): RequestSpec {
  const id = `${prefix}-${n}`;
  const r = random();
  if (r < 0.45) {
    const ms = Math.floor(random() * 150);
    return {
      id,
      method: "GET",
      path: `/job/${n}?ms=${ms}`,
      body: null,
      verify: (b) => {
        try {
          const j = JSON.parse(dec.decode(b));
          return j.id === id && j.path === `/job/${n}?ms=${ms}`;
        } catch {
          return false;
        }
      },
    };
  }
  if (r < 0.75) {
    const size = random() < 0.7
      ? Math.floor(random() * 8192)
      : 64 * 1024 + Math.floor(random() * 96 * 1024);
    const body = pattern(size, n);
    return {
      id,
      method: "POST",
      path: "/echo",
      body,
      verify: (b) => equal(b, body),
    };
  }
  if (r < 0.9) {
    const size = 100_000 + Math.floor(random() * 400_000);
    return {
      id,
      method: "GET",
      path: `/big?n=${size}&chunk=16384`,
      body: null,
      verify: (b) => b.length === size && b.every((x) => x === 0x61),
    };
  }
  const chunks = 1 + Math.floor(random() * 4);
  return {
    id,
    method: "GET",
    path: `/drip?chunks=${chunks}&ms=40`,
    body: null,
    verify: (b) => dec.decode(b) === "drip\n".repeat(chunks),
  };
}

/**
 * Sends one request and classifies how it ended.
 * @param baseUrl the hub's consumer URL
 * @param spec the request
 * @param boundMs longest time to an outcome; beyond it the request is lost
 * @returns the outcome
 */
export async function send(
  baseUrl: string,
  spec: RequestSpec,
  boundMs: number,
): Promise<Outcome> {
  const start = performance.now();
  const signal = AbortSignal.timeout(boundMs);
  const done = (
    kind: OutcomeKind,
    status: number,
    error: string | null,
  ): Outcome => ({
    spec,
    kind,
    status,
    error,
    ms: performance.now() - start,
    bodyLength: spec.body?.length ?? 0,
  });
  let res: Response;
  try {
    res = await fetch(`${baseUrl}${spec.path}`, {
      method: spec.method,
      headers: { "x-request-id": spec.id },
      body: spec.body,
      signal,
    });
  } catch (err) {
    if (signal.aborted) return done("lost", 0, "timeout");
    const cause = err instanceof Error && err.cause ? ` ${err.cause}` : "";
    const msg = String(err) + cause;
    // Connection refused: the request never reached a hub (restarting).
    if (/refused|os error 111/i.test(msg)) return done("refused", 0, "refused");
    return done("lost", 0, msg.slice(0, 200));
  }
  const code = res.headers.get("pothead-error");
  if (code !== null) {
    await res.body?.cancel().catch(() => {});
    return DESIGN_ERRORS[code] === res.status
      ? done("hub-error", res.status, code)
      : done("unexpected", res.status, code);
  }
  let body: Uint8Array;
  try {
    body = new Uint8Array(await res.arrayBuffer());
  } catch {
    if (signal.aborted) return done("lost", res.status, "timeout in body");
    return done("aborted-body", res.status, "aborted");
  }
  if (res.status !== 200) return done("unexpected", res.status, null);
  if (res.headers.get("x-request-id") !== spec.id) {
    return done("bad-body", res.status, "x-request-id");
  }
  return spec.verify(body)
    ? done("ok", 200, null)
    : done("bad-body", 200, "body");
}

/** Counts of a run, for printing. */
export interface Tally {
  /** Requests sent. */
  sent: number;
  /** By HTTP status (0: none). */
  byStatus: Record<string, number>;
  /** By outcome kind and error. */
  byKind: Record<string, number>;
  /** Outcomes that break the contract (`lost`, `bad-body`, `unexpected`). */
  violations: Outcome[];
}

/**
 * Sums outcomes.
 * @param outcomes the outcomes
 * @returns the tally
 */
export function tally(outcomes: readonly Outcome[]): Tally {
  const t: Tally = {
    sent: outcomes.length,
    byStatus: {},
    byKind: {},
    violations: [],
  };
  for (const o of outcomes) {
    t.byStatus[o.status] = (t.byStatus[o.status] ?? 0) + 1;
    const k = o.error && o.kind !== "ok" ? `${o.kind}:${o.error}` : o.kind;
    t.byKind[k] = (t.byKind[k] ?? 0) + 1;
    if (o.kind === "lost" || o.kind === "bad-body" || o.kind === "unexpected") {
      t.violations.push(o);
    }
  }
  return t;
}

/**
 * Reads the app's record files: how many times each request id ran.
 * @param paths record files (`<id> <pid> <path>` per line)
 * @returns runs per id
 */
export function runsById(paths: string[]): Map<string, number> {
  const runs = new Map<string, number>();
  for (const p of paths) {
    let text = "";
    try {
      text = Deno.readTextFileSync(p);
    } catch { /* no job ran */ }
    for (const line of text.split("\n")) {
      const id = line.split(" ")[0];
      if (id) runs.set(id, (runs.get(id) ?? 0) + 1);
    }
  }
  return runs;
}

/**
 * Checks DESIGN.md's re-dispatch rule against what ran: a request ran at
 * most once, or twice when the hub re-dispatched it and its body fit the
 * replay buffer.
 * @param outcomes the requests
 * @param runs runs per id
 * @param redispatched ids the hub logged as re-dispatched
 * @returns messages for every breach
 */
export function redispatchBreaches(
  outcomes: readonly Outcome[],
  runs: Map<string, number>,
  redispatched: Set<string>,
): string[] {
  const out: string[] = [];
  for (const o of outcomes) {
    const n = runs.get(o.spec.id) ?? 0;
    if (n <= 1) continue;
    if (n > 2) out.push(`${o.spec.id} ran ${n} times`);
    else if (!redispatched.has(o.spec.id)) {
      out.push(`${o.spec.id} ran twice without a re-dispatch`);
    } else if (o.bodyLength > 64 * 1024) {
      out.push(
        `${o.spec.id} ran twice with a ${o.bodyLength}-byte body (beyond the replay buffer)`,
      );
    }
  }
  return out;
}

/**
 * Runs `fn` for each of `n` items with at most `concurrency` at once.
 * @param concurrency the limit
 * @param next gives the next item, or null when done
 * @param fn the work
 */
export async function pool<T>(
  concurrency: number,
  next: () => T | null,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let item = next(); item !== null; item = next()) await fn(item);
    }),
  );
}

/**
 * The resident set size of a process, from `/proc` (Linux).
 * @param pid the process
 * @returns bytes, or null when unknown
 */
export function rssOf(pid: number): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
