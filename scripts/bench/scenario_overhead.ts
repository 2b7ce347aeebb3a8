/**
 * Per-request overhead: a closed loop (wrk, 16 connections) against the
 * trivial `/hello` handler on four one-slot workers; requests per second,
 * latency percentiles, and the CPU each process group spent per request.
 *
 * @module
 */

import { startBackends } from "./backends.ts";
import { procCpuUserSys, sleep } from "./procs.ts";
import { startSystem, SYSTEM_NAMES, type SystemId } from "./systems.ts";
import { fx, int, mdTable } from "./table.ts";
import { runWrk, type WrkResult } from "./wrk.ts";
import type { Pothead } from "./pothead.ts";

/** Options of the overhead run. */
export interface OverheadOptions {
  seconds: number;
  conns: number;
  servers: number;
  systems: SystemId[];
  dir: string;
  machineLine: string;
  log: (s: string) => void;
}

/** One row. */
export interface OverheadRow {
  id: SystemId;
  name: string;
  wrk: WrkResult;
  balancerUsPerReq: number;
  /** Of which in the kernel (system time). */
  balancerSysUsPerReq: number;
  workersUsPerReq: number;
  workersSysUsPerReq: number;
}

const cpuOf = (pids: number[]) => {
  let user = 0, sys = 0;
  for (const p of pids) {
    const c = procCpuUserSys(p);
    user += c.user || 0;
    sys += c.sys || 0;
  }
  return { user, sys };
};

/** Runs the scenario. */
export async function runOverhead(
  o: OverheadOptions,
): Promise<{ markdown: string; rows: OverheadRow[] }> {
  const rows: OverheadRow[] = [];
  const backends = o.systems.some((id) => id !== "pothead")
    ? await startBackends(o.servers)
    : undefined;
  try {
    for (const id of o.systems) {
      o.log(`  ${SYSTEM_NAMES[id]} …`);
      const sys = await startSystem(id, backends, o.servers, o.dir);
      try {
        const url = `http://127.0.0.1:${sys.port}/hello`;
        await runWrk(url, o.conns, Math.min(3, o.seconds)); // warm-up (JIT, connections)
        await sleep(300);
        const workerPids = id === "pothead"
          ? (sys as Pothead).workers.map((p) => p.pid)
          : id === "direct"
          ? []
          : backends!.procs.map((p) => p.pid);
        const balancerPids = sys.pids();
        const b0 = cpuOf(balancerPids), w0 = cpuOf(workerPids);
        const r = await runWrk(url, o.conns, o.seconds);
        const b1 = cpuOf(balancerPids), w1 = cpuOf(workerPids);
        const us = (
          a: { user: number; sys: number },
          b: { user: number; sys: number },
        ) => ({
          total: (b.user + b.sys - a.user - a.sys) * 1e6 / r.requests,
          sys: (b.sys - a.sys) * 1e6 / r.requests,
        });
        const row: OverheadRow = {
          id,
          name: SYSTEM_NAMES[id],
          wrk: r,
          balancerUsPerReq: id === "direct" ? NaN : us(b0, b1).total,
          balancerSysUsPerReq: id === "direct" ? NaN : us(b0, b1).sys,
          workersUsPerReq: id === "direct"
            ? us(b0, b1).total
            : us(w0, w1).total,
          workersSysUsPerReq: id === "direct" ? us(b0, b1).sys : us(w0, w1).sys,
        };
        rows.push(row);
        o.log(
          `    ${int(r.rps)} req/s, p50 ${fx(r.p50Ms, 2)} ms, p99 ${
            fx(r.p99Ms, 2)
          } ms, errors ${r.errors}`,
        );
      } finally {
        await sys.stop();
      }
      await sleep(500);
    }
  } finally {
    await backends?.stop();
  }
  const ref = rows.find((r) => r.id === "haproxy-lc");
  const table = mdTable(
    [
      "system",
      "req/s",
      "÷ HAProxy maxconn 1",
      "slot ms/req",
      "p50 ms",
      "p90 ms",
      "p99 ms",
      "balancer CPU µs/req (kernel)",
      "workers CPU µs/req (kernel)",
      "errors",
    ],
    rows.map((r) => [
      r.name,
      int(r.wrk.rps),
      ref ? fx(r.wrk.rps / ref.wrk.rps, 2) : "—",
      r.id === "direct" ? "—" : fx(o.servers * 1000 / r.wrk.rps, 3),
      fx(r.wrk.p50Ms, 2),
      fx(r.wrk.p90Ms, 2),
      fx(r.wrk.p99Ms, 2),
      Number.isFinite(r.balancerUsPerReq)
        ? `${fx(r.balancerUsPerReq, 0)} (${fx(r.balancerSysUsPerReq, 0)})`
        : "—",
      `${fx(r.workersUsPerReq, 0)} (${fx(r.workersSysUsPerReq, 0)})`,
      int(r.wrk.errors),
    ]),
  );
  const md = [
    "### Per-request overhead",
    "",
    `Closed loop: wrk, 2 threads, ${o.conns} connections, ${o.seconds} s, \`GET /hello\` (trivial handler) on ${o.servers} ` +
    "one-slot workers (direct: one backend alone). CPU per request from /proc (user+system) of the balancer " +
    "process(es) and of the worker/backend processes during the measured run, all threads (in brackets: the " +
    "part spent in the kernel). Slot ms/req = workers ÷ req/s: how " +
    "long one worker slot is taken per trivial request, the cost a balancer adds to every job (at 80 % load each " +
    "added ms costs tens of ms of p99). wrk itself shares the 2 cores.",
    "",
    table,
    "",
    `Machine: ${o.machineLine}`,
    "",
  ].join("\n");
  return { markdown: md, rows };
}
