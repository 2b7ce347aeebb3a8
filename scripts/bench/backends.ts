/**
 * The four plain-HTTP job backends behind HAProxy and nginx (and "direct"):
 * one `job_app.ts` process each, serving one request at a time.
 *
 * @module
 */

import { freePort, type Proc, spawn, stop, waitForPort } from "./procs.ts";

const APP = new URL("./job_app.ts", import.meta.url).pathname;

/** Running backends. */
export interface Backends {
  ports: number[];
  procs: Proc[];
  stop(): Promise<void>;
}

/** Starts `n` backends on free loopback ports and waits until they listen. */
export async function startBackends(n: number): Promise<Backends> {
  const ports: number[] = [];
  const procs: Proc[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const port = freePort();
      ports.push(port);
      procs.push(
        spawn(`backend-${port}`, [
          Deno.execPath(),
          "run",
          "-A",
          "--no-prompt",
          APP,
          "--port",
          String(port),
        ]),
      );
    }
    await Promise.all(ports.map((p, i) => waitForPort(p, 30_000, procs[i])));
  } catch (e) {
    await Promise.all(procs.map((p) => stop(p)));
    throw e;
  }
  return {
    ports,
    procs,
    stop: () => Promise.all(procs.map((p) => stop(p))).then(() => {}),
  };
}
