/**
 * The closed-loop overhead measurement: `wrk` with a fixed number of
 * connections against one URL; requests per second and latency percentiles
 * parsed from its `--latency` report.
 *
 * @module
 */

import { withTimeout } from "./http_client.ts";

/** The install hint printed when wrk is missing. */
export const WRK_INSTALL = "apt-get update && apt-get install -y wrk";

/** What wrk measured. */
export interface WrkResult {
  rps: number;
  p50Ms: number;
  p75Ms: number;
  p90Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  raw: string;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const x = Number(m[1]);
  return m[2] === "us"
    ? x / 1000
    : m[2] === "ms"
    ? x
    : m[2] === "s"
    ? x * 1000
    : x * 60_000;
}

/** Parses wrk's `--latency` output. */
export function parseWrk(out: string): WrkResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, "m").exec(out);
    return m ? toMs(m[1]) : NaN;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(
    /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0,
  );
  const sock =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
      out,
    );
  const sockErr = sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0;
  return {
    rps,
    p50Ms: pct("50"),
    p75Ms: pct("75"),
    p90Ms: pct("90"),
    p99Ms: pct("99"),
    requests,
    errors: non2xx + sockErr,
    raw: out,
  };
}

/** Runs wrk for `seconds` with `conns` connections and 2 threads. */
export async function runWrk(
  url: string,
  conns: number,
  seconds: number,
): Promise<WrkResult> {
  const cmd = new Deno.Command("wrk", {
    args: [
      "-t2",
      `-c${conns}`,
      `-d${seconds}s`,
      "--timeout",
      "10s",
      "--latency",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  try {
    const out = await withTimeout(child.output(), (seconds + 30) * 1000, "wrk");
    return parseWrk(new TextDecoder().decode(out.stdout));
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    throw e;
  }
}
