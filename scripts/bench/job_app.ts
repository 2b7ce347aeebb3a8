/**
 * The job application every system runs: the pothead app shape
 * (`export default { fetch }`) loaded by `worker.ts`, and the same handler
 * behind `Deno.serve` for the HAProxy and nginx backends
 * (`deno run -A scripts/bench/job_app.ts --port P`).
 *
 * Routes:
 * - `GET /job?ms=N`: the "expensive" job: sleeps N ms (setTimeout), answers
 *   with its measured duration in `x-job-us`, when it started and ended
 *   (`x-job-start`, `x-job-end`, Unix ms) and its process (`x-job-pid`).
 * - `GET /hello`: a trivial answer, for per-request overhead.
 * - `GET /download?bytes=N`: streams N bytes (64 KiB chunks, backpressured).
 * - `POST /upload`: reads the whole body, answers with the byte count.
 *
 * Non-concurrent backends: a pothead worker with `--workers 1` runs one job at
 * a time by construction. A plain `Deno.serve` would run every request it is
 * sent at once, which would make a "push" balancer (round robin) look better
 * than real expensive jobs allow. So {@linkcode serveBackend} puts a mutex in
 * front of the handler: each backend runs one request at a time and the rest
 * wait in its own FIFO, exactly what a busy one-job machine does to requests
 * pushed at it. The mutex is released when the handler has produced the
 * response head (for `/job` that is after the sleep).
 *
 * @module
 */

const CHUNK = new Uint8Array(64 * 1024).fill(120);
const HELLO = new TextEncoder().encode("hello\n");

/** Sleeps like the job does; resolves with the measured duration in ms. */
export function sleepJob(ms: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) =>
    setTimeout(() => resolve(performance.now() - t0), ms)
  );
}

function download(bytes: number): Response {
  let left = bytes;
  const body = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (left <= 0) {
        ctrl.close();
        return;
      }
      const n = Math.min(left, CHUNK.length);
      // a fresh view each time: the stream may transfer what it is given
      ctrl.enqueue(n === CHUNK.length ? CHUNK.slice() : CHUNK.slice(0, n));
      left -= n;
    },
  }, { highWaterMark: 1 });
  return new Response(body, {
    headers: {
      "content-length": String(bytes),
      "content-type": "application/octet-stream",
    },
  });
}

async function upload(req: Request): Promise<Response> {
  let n = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (let i = 0; i < 1e9; i++) {
      const r = await reader.read();
      if (r.done) break;
      n += r.value.length;
    }
  }
  return new Response(String(n) + "\n");
}

/** The handler (pothead app `fetch`). */
export function handle(req: Request): Response | Promise<Response> {
  const url = new URL(req.url);
  switch (url.pathname) {
    case "/hello":
      return new Response(HELLO);
    case "/job": {
      const ms = Number(url.searchParams.get("ms") ?? "0");
      if (!(ms >= 0 && ms <= 600_000)) {
        return new Response("bad ms\n", { status: 400 });
      }
      const startAt = performance.timeOrigin + performance.now();
      return sleepJob(ms).then((took) =>
        new Response("done\n", {
          headers: {
            "x-job-us": String(Math.round(took * 1000)),
            // for the slot dead time (dead_time.ts): when, and where
            "x-job-start": startAt.toFixed(3),
            "x-job-end": (performance.timeOrigin + performance.now()).toFixed(
              3,
            ),
            "x-job-pid": String(Deno.pid),
          },
        })
      );
    }
    case "/download": {
      const bytes = Number(url.searchParams.get("bytes") ?? "0");
      if (!(bytes >= 0 && bytes <= 2 ** 40)) {
        return new Response("bad bytes\n", { status: 400 });
      }
      return download(bytes);
    }
    case "/upload":
      return upload(req);
    default:
      return new Response("not found\n", { status: 404 });
  }
}

export default { fetch: handle };

/** A one-at-a-time gate (FIFO). */
export class Mutex {
  #busy = false;
  #waiters: (() => void)[] = [];

  /** Runs `fn` when the gate is free; the next one waits until it settles. */
  run<T>(fn: () => T | Promise<T>): T | Promise<T> {
    if (!this.#busy) {
      this.#busy = true;
      return this.#go(fn);
    }
    return new Promise<void>((r) => this.#waiters.push(r)).then(() =>
      this.#go(fn)
    );
  }

  #go<T>(fn: () => T | Promise<T>): T | Promise<T> {
    let out: T | Promise<T>;
    try {
      out = fn();
    } catch (e) {
      this.#release();
      throw e;
    }
    if (out instanceof Promise) return out.finally(() => this.#release());
    this.#release();
    return out;
  }

  #release(): void {
    const next = this.#waiters.shift();
    if (next) next(); // stays busy, handed over
    else this.#busy = false;
  }
}

/** Serves the handler on host:port, one request at a time. */
export function serveBackend(
  hostname: string,
  port: number,
): Deno.HttpServer<Deno.NetAddr> {
  const gate = new Mutex();
  return Deno.serve(
    { hostname, port, onListen: () => {} },
    (req) => gate.run(() => handle(req)),
  );
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--port");
  const port = i >= 0 ? Number(Deno.args[i + 1]) : 0;
  const server = serveBackend("127.0.0.1", port) as Deno.HttpServer<
    Deno.NetAddr
  >;
  console.log(`job app listening on 127.0.0.1:${server.addr.port}`);
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}
