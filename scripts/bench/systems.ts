/**
 * The systems under test, by id, and what is needed to run each: pothead,
 * HAProxy (leastconn + maxconn 1, roundrobin), nginx (least_conn, round
 * robin), and "direct" (one backend, no balancer).
 *
 * @module
 */

import type { Backends } from "./backends.ts";
import { type Balancer, HAPROXY_INSTALL, startHaproxy } from "./haproxy.ts";
import { have } from "./machine.ts";
import { NGINX_INSTALL, startNginx } from "./nginx.ts";
import { potheadAvailable, startPothead } from "./pothead.ts";

/** System ids, in table order. */
export const SYSTEM_IDS = [
  "pothead",
  "haproxy-lc",
  "haproxy-lc1",
  "haproxy-rr",
  "nginx-lc",
  "nginx-rr",
  "direct",
] as const;
/** A system id. */
export type SystemId = typeof SYSTEM_IDS[number];

/** Display names. */
export const SYSTEM_NAMES: Record<SystemId, string> = {
  "pothead": "pothead",
  "haproxy-lc": "HAProxy leastconn, maxconn 1",
  "haproxy-lc1": "HAProxy leastconn, maxconn 1, nbthread 1",
  "haproxy-rr": "HAProxy roundrobin",
  "nginx-lc": "nginx least_conn",
  "nginx-rr": "nginx round robin",
  "direct": "direct (one backend, no balancer)",
};

/** Which systems can run here; prints install hints for missing ones. */
export async function availableSystems(
  wanted: SystemId[],
): Promise<{ ok: Set<SystemId>; missing: string[] }> {
  const ok = new Set<SystemId>();
  const missing: string[] = [];
  const hasHaproxy = have("haproxy"), hasNginx = have("nginx");
  const pothead = wanted.includes("pothead") ? await potheadAvailable() : false;
  for (const id of wanted) {
    if (id.startsWith("haproxy") && !hasHaproxy) continue;
    if (id.startsWith("nginx") && !hasNginx) continue;
    if (id === "pothead" && !pothead) continue;
    ok.add(id);
  }
  if (wanted.some((id) => id.startsWith("haproxy")) && !hasHaproxy) {
    missing.push(
      `haproxy not found: skipping HAProxy. Install: ${HAPROXY_INSTALL}`,
    );
  }
  if (wanted.some((id) => id.startsWith("nginx")) && !hasNginx) {
    missing.push(`nginx not found: skipping nginx. Install: ${NGINX_INSTALL}`);
  }
  if (wanted.includes("pothead") && !pothead) {
    missing.push(
      "pothead: hub.ts/worker.ts missing or `deno run -A hub.ts --help` failed: skipping pothead",
    );
  }
  return { ok, missing };
}

/** Starts a system (balancer and, for pothead, its workers) on the given backends. */
export async function startSystem(
  id: SystemId,
  backends: Backends | undefined,
  workers: number,
  dir: string,
  potheadOpts: { maxQueue?: number; queueTimeout?: string } = {},
): Promise<Balancer> {
  const need = () => {
    if (!backends) throw new Error(`${id} needs backends`);
    return backends.ports;
  };
  switch (id) {
    case "pothead":
      return await startPothead(workers, potheadOpts);
    case "haproxy-lc":
      return await startHaproxy("leastconn-maxconn1", need(), dir);
    case "haproxy-lc1":
      return await startHaproxy("leastconn-maxconn1-nbthread1", need(), dir);
    case "haproxy-rr":
      return await startHaproxy("roundrobin", need(), dir);
    case "nginx-lc":
      return await startNginx("least_conn", need(), dir);
    case "nginx-rr":
      return await startNginx("round-robin", need(), dir);
    case "direct": {
      const ports = need();
      const proc = backends!.procs[0];
      return {
        name: SYSTEM_NAMES.direct,
        port: ports[0],
        proc,
        pids: () => [proc.pid],
        stop: async () => {},
      };
    }
  }
}
