/**
 * Streaming: a large download and upload (1 GiB by default) through each
 * system, one at a time, with MB/s and the balancer's peak RSS. Each
 * balancer is started fresh, so its VmHWM is this scenario's alone.
 *
 * @module
 */

import { startBackends } from "./backends.ts";
import { sleep } from "./procs.ts";
import { streamThrough, type Transfer } from "./streaming.ts";
import { startSystem, SYSTEM_NAMES, type SystemId } from "./systems.ts";
import { fx, mdTable } from "./table.ts";

/** Options of the streaming run. */
export interface StreamOptions {
  bytes: number;
  servers: number;
  systems: SystemId[];
  dir: string;
  machineLine: string;
  log: (s: string) => void;
}

/** One row. */
export interface StreamRow {
  id: SystemId;
  name: string;
  down: Transfer;
  up: Transfer;
  startRssMiB: number;
  peakRssMiB: number;
}

/** Runs the scenario. */
export async function runStream(
  o: StreamOptions,
): Promise<{ markdown: string; rows: StreamRow[] }> {
  const rows: StreamRow[] = [];
  const backends = o.systems.some((id) => id !== "pothead")
    ? await startBackends(o.servers)
    : undefined;
  try {
    for (const id of o.systems) {
      o.log(`  ${SYSTEM_NAMES[id]} …`);
      const sys = await startSystem(id, backends, o.servers, o.dir);
      try {
        const r = await streamThrough(
          sys.port,
          o.bytes,
          id === "direct" ? [] : sys.pids(),
        );
        rows.push({ id, name: SYSTEM_NAMES[id], ...r });
        o.log(
          `    down ${fx(r.down.mbPerS, 0)} MB/s${
            r.down.ok ? "" : ` (${r.down.error})`
          }, up ${fx(r.up.mbPerS, 0)} MB/s${
            r.up.ok ? "" : ` (${r.up.error})`
          }, peak RSS ${fx(r.peakRssMiB)} MiB`,
        );
      } finally {
        await sys.stop();
      }
      await sleep(500);
    }
  } finally {
    await backends?.stop();
  }
  const ref = rows.find((r) => r.id === "haproxy-lc") ??
    rows.find((r) => r.id === "haproxy-rr");
  const pct = (
    a: Transfer,
    b?: Transfer,
  ) => (b && a.ok && b.ok ? `${fx(100 * a.mbPerS / b.mbPerS, 0)} %` : "—");
  const mb = (t: Transfer) => (t.ok ? fx(t.mbPerS, 0) : `failed: ${t.error}`);
  const table = mdTable(
    [
      "system",
      "download MB/s",
      "upload MB/s",
      "download ÷ HAProxy",
      "upload ÷ HAProxy",
      "balancer RSS before MiB",
      "balancer peak RSS MiB",
    ],
    rows.map((
      r,
    ) => [
      r.name,
      mb(r.down),
      mb(r.up),
      pct(r.down, ref?.down),
      pct(r.up, ref?.up),
      fx(r.startRssMiB),
      fx(r.peakRssMiB),
    ]),
  );
  const gib = o.bytes / 2 ** 30;
  const md = [
    "### Streaming",
    "",
    `One ${
      gib >= 1
        ? `${fx(gib, gib % 1 ? 2 : 0)} GiB`
        : `${fx(o.bytes / 2 ** 20, 0)} MiB`
    } download ` +
    "(`GET /download`, 64 KiB chunks from the app) and one upload of the same size (`POST /upload`, Content-Length, " +
    "256 KiB writes) through each system, one at a time. MB = 10⁶ bytes. Peak RSS: the larger of sampled VmRSS " +
    "(25 ms) and VmHWM of the balancer process (nginx: master + workers), started fresh for this scenario.",
    "",
    table,
    "",
    `Machine: ${o.machineLine}`,
    "",
  ].join("\n");
  return { markdown: md, rows };
}
