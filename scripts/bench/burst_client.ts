/**
 * A burst of consumer requests, all at once, one connection each (so they
 * can all wait in the balancer's queue together): the scale scenario's
 * consumer side, run as its own process with a raised descriptor limit.
 *
 * Run: `deno run -A scripts/bench/burst_client.ts --port P --count 10000 --path /hello`
 * Prints JSON lines: `{"event":"sent",…}` when every request is written,
 * `{"event":"done",…}` at the end (absolute times: `timeOrigin + now()`).
 *
 * @module
 */

import { HttpConnection, withTimeout } from "./http_client.ts";

/** What a burst measured. */
export interface BurstResult {
  ok: number;
  failed: number;
  errors: string[];
  firstSendAbs: number;
  allSentAbs: number;
  lastDoneAbs: number;
}

const now = () => performance.timeOrigin + performance.now();

/** Sends `count` GETs at once (connect in `parallel` lanes) and waits for all. */
export async function burst(
  port: number,
  count: number,
  path: string,
  parallel: number,
  timeoutMs: number,
  onSent: (abs: number) => void,
): Promise<BurstResult> {
  const r: BurstResult = {
    ok: 0,
    failed: 0,
    errors: [],
    firstSendAbs: NaN,
    allSentAbs: NaN,
    lastDoneAbs: NaN,
  };
  const inflight: Promise<void>[] = [];
  let next = 0;
  const fail = (e: unknown) => {
    r.failed++;
    if (r.errors.length < 5) r.errors.push(String((e as Error)?.message ?? e));
  };
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        next++;
        let c: HttpConnection;
        try {
          c = await HttpConnection.open("127.0.0.1", port, 1024);
        } catch (e) {
          fail(e);
          continue;
        }
        if (isNaN(r.firstSendAbs)) r.firstSendAbs = now();
        inflight.push(
          withTimeout(c.request({ path }), timeoutMs, "burst request").then(
            (res) => {
              if (res.status === 200) r.ok++;
              else {fail(
                  `status ${res.status} ${
                    res.headers.get("pothead-error") ?? ""
                  }`,
                );}
            },
            fail,
          ).finally(() => {
            r.lastDoneAbs = now();
            c.close();
          }),
        );
      }
    }),
  );
  r.allSentAbs = now();
  onSent(r.allSentAbs);
  await Promise.all(inflight);
  return r;
}

if (import.meta.main) {
  const arg = (name: string, dflt: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : dflt;
  };
  const print = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
  const r = await burst(
    Number(arg("--port", "8080")),
    Number(arg("--count", "10000")),
    arg("--path", "/hello"),
    Number(arg("--parallel", "256")),
    Number(arg("--timeout-ms", "120000")),
    (abs) => print({ event: "sent", abs }),
  );
  print({ event: "done", ...r });
  Deno.exit(0);
}
