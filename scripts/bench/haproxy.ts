/**
 * HAProxy in front of the backends: `roundrobin` (push) or `leastconn` with
 * `maxconn 1` per server (HAProxy's own central queue). Keep-alive to the
 * backends, all timeouts long enough for the queue, run in the foreground.
 *
 * @module
 */

import { freePort, type Proc, spawn, stop, waitForPort } from "./procs.ts";

/** Which HAProxy set-up. */
export type HaproxyMode =
  | "roundrobin"
  | "leastconn-maxconn1"
  | "leastconn-maxconn1-nbthread1";

/** The install hint printed when haproxy is missing. */
export const HAPROXY_INSTALL = "apt-get update && apt-get install -y haproxy";

/** Client connections HAProxy accepts at once: it needs 2 fds per connection. */
export const HAPROXY_MAXCONN = 9900;

/** The configuration text (exported for inspection). */
export function haproxyConfig(
  mode: HaproxyMode,
  port: number,
  backends: number[],
): string {
  const server = mode === "roundrobin" ? "" : " maxconn 1";
  return [
    "global",
    // default: one thread per core; the variant pins one thread, which hands
    // a freed server to the next queued request far faster (no cross-thread
    // wake-up)
    ...(mode === "leastconn-maxconn1-nbthread1" ? ["  nbthread 1"] : []),
    // maxsock = 2 × maxconn + a few must fit the hard fd limit (20,000 here)
    `  maxconn ${HAPROXY_MAXCONN}`,
    "  log stderr format raw local0 err",
    "defaults",
    "  mode http",
    "  option http-keep-alive",
    "  timeout connect 5s",
    "  timeout client 300s",
    "  timeout server 300s",
    "  timeout queue 300s",
    "  timeout http-keep-alive 300s",
    `  maxconn ${HAPROXY_MAXCONN}`,
    "frontend fe",
    `  bind 127.0.0.1:${port}`,
    "  default_backend be",
    "backend be",
    `  balance ${mode === "roundrobin" ? "roundrobin" : "leastconn"}`,
    ...backends.map((p, i) => `  server s${i} 127.0.0.1:${p}${server}`),
    "",
  ].join("\n");
}

/** A running HAProxy. */
export interface Balancer {
  name: string;
  port: number;
  proc: Proc;
  /** pid whose RSS is the balancer's (for nginx: the master). */
  pids(): number[];
  stop(): Promise<void>;
}

/** Starts HAProxy and waits until it listens. */
export async function startHaproxy(
  mode: HaproxyMode,
  backends: number[],
  dir: string,
): Promise<Balancer> {
  const port = freePort();
  const cfg = `${dir}/haproxy-${mode}.cfg`;
  Deno.writeTextFileSync(cfg, haproxyConfig(mode, port, backends));
  const proc = spawn(`haproxy-${mode}`, ["haproxy", "-db", "-f", cfg], {
    nofile: 100_000,
  });
  try {
    await waitForPort(port, 10_000, proc);
  } catch (e) {
    await stop(proc);
    throw e;
  }
  return {
    name: mode === "roundrobin"
      ? "HAProxy roundrobin"
      : mode === "leastconn-maxconn1"
      ? "HAProxy leastconn, maxconn 1"
      : "HAProxy leastconn, maxconn 1, nbthread 1",
    port,
    proc,
    pids: () => [proc.pid],
    stop: () => stop(proc),
  };
}
