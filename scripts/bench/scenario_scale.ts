/**
 * Scale: (1) many idle worker connections at one hub, (2) many consumer
 * requests queued at a hub with no worker, then drained by as many fresh
 * worker connections, (3) a burst of that many requests at once against four
 * one-slot workers, pothead against HAProxy's queue. Hub RSS from /proc.
 * Fake workers (`ptth_fake_workers.ts`) and the consumer burst
 * (`burst_client.ts`) run as their own processes with raised fd limits.
 *
 * @module
 */

import { startBackends } from "./backends.ts";
import { HAPROXY_MAXCONN, startHaproxy } from "./haproxy.ts";
import { httpGet, type Pothead, startPothead } from "./pothead.ts";
import {
  logTail,
  type Proc,
  procStatusKiB,
  readJsonLines,
  sampleRss,
  sleep,
  spawn,
  stop,
} from "./procs.ts";
import { fx, int, mdTable } from "./table.ts";

const FAKE = new URL("./ptth_fake_workers.ts", import.meta.url).pathname;
const BURST = new URL("./burst_client.ts", import.meta.url).pathname;
const nowAbs = () => performance.timeOrigin + performance.now();

/** Options. */
export interface ScaleOptions {
  count: number;
  servers: number;
  withHaproxy: boolean;
  withPothead: boolean;
  machineLine: string;
  dir: string;
  log: (s: string) => void;
}

type Json = Record<string, unknown>;

/** A helper process whose JSON lines we wait on. */
class Helper {
  events: Json[] = [];
  #waiters: { pred: (e: Json) => boolean; resolve: (e: Json) => void }[] = [];
  done: Promise<void>;
  constructor(readonly proc: Proc) {
    this.done = readJsonLines(proc, (e) => {
      this.events.push(e);
      for (const w of [...this.#waiters]) {
        if (w.pred(e)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    }).catch(() => {});
  }
  wait(
    pred: (e: Json) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<Json> {
    const have = this.events.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: Json) => (clearTimeout(id), resolve(e)) };
      const id = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(
          new Error(
            `${what}: nothing after ${timeoutMs} ms; ${logTail(this.proc, 5)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }
}

function fakeWorkers(workerPort: number, count: number): Helper {
  return new Helper(spawn("fake-workers", [
    Deno.execPath(),
    "run",
    "-A",
    FAKE,
    "--connect",
    `127.0.0.1:${workerPort}`,
    "--count",
    String(count),
    "--max-seconds",
    "300",
  ], { stdout: "piped", nofile: 65536 }));
}

function burstClient(port: number, count: number, timeoutMs: number): Helper {
  return new Helper(spawn("burst-client", [
    Deno.execPath(),
    "run",
    "-A",
    BURST,
    "--port",
    String(port),
    "--count",
    String(count),
    "--path",
    "/hello",
    "--timeout-ms",
    String(timeoutMs),
  ], { stdout: "piped", nofile: 65536 }));
}

async function queueLength(metricsPort: number): Promise<number | null> {
  const r = await httpGet(metricsPort, "/metrics", 10_000);
  if (!r || r.status !== 200) return null;
  let sum = 0, seen = false;
  for (const line of r.text.split("\n")) {
    if (line.startsWith("pothead_hub_queue_length")) {
      seen = true;
      sum += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
    }
  }
  return seen ? sum : null;
}

const mib = (kib: number) => kib / 1024;

/** Runs the scenario. */
export async function runScale(
  o: ScaleOptions,
): Promise<{ markdown: string; data: Json }> {
  const N = o.count;
  const data: Json = {};
  const lines: string[][] = [];

  if (o.withPothead) {
    // (1) N idle worker connections on a fresh hub
    o.log(`  pothead: ${N} idle worker connections …`);
    let hub: Pothead = await startPothead(0, {
      maxQueue: N * 2,
      queueTimeout: "120s",
      nofile: 4 * N + 1000,
    });
    let fake: Helper | undefined;
    try {
      await sleep(500);
      const base = procStatusKiB(hub.hub.pid, "VmRSS");
      fake = fakeWorkers(hub.workerPort, N);
      const c = await fake.wait(
        (e) => e.event === "connected",
        120_000,
        "fake workers",
      );
      await sleep(3000); // let the hub settle (and probe)
      const rss = procStatusKiB(hub.hub.pid, "VmRSS");
      const hwm = procStatusKiB(hub.hub.pid, "VmHWM");
      const last = fake.events.at(-1) ?? c;
      data.idle = {
        base,
        rss,
        hwm,
        connected: c.connected,
        failed: c.failed,
        connectMs: c.ms,
        stillOpen: Number(last.connected) - Number(last.closed),
        probes: last.probes,
      };
      o.log(
        `    connected ${c.connected} (failed ${c.failed}) in ${
          fx(Number(c.ms), 0)
        } ms; hub RSS ${fx(mib(rss))} MiB`,
      );
      lines.push(
        [
          `${
            int(N)
          } idle worker connections: hub RSS (VmRSS, hub alone before: ${
            fx(mib(base))
          } MiB)`,
          `${fx(mib(rss))} MiB`,
          "—",
        ],
        [
          `… time to accept all their handshakes (256 at a time)`,
          `${fx(Number(c.ms), 0)} ms`,
          "—",
        ],
        [
          `… connections refused or failed / still open after 3 s`,
          `${int(Number(c.failed))} / ${
            int(Number(last.connected) - Number(last.closed))
          }`,
          "—",
        ],
      );
    } finally {
      if (fake) await stop(fake.proc, 3000);
      await hub.stop();
    }

    // (2) N queued consumer requests with no worker, then D fresh worker connections drain them
    // (N consumers + D workers must fit the 20,000-fd hard limit of this machine)
    const D = Math.min(N, 1000);
    o.log(
      `  pothead: ${N} queued requests, drained by ${D} worker connections …`,
    );
    hub = await startPothead(0, {
      maxQueue: N * 2,
      queueTimeout: "120s",
      nofile: 4 * N + 1000,
    });
    let burst: Helper | undefined;
    fake = undefined;
    try {
      await sleep(500);
      const base = procStatusKiB(hub.hub.pid, "VmRSS");
      burst = burstClient(hub.port, N, 180_000);
      await burst.wait((e) => e.event === "sent", 120_000, "burst client");
      let q: number | null = null;
      for (let i = 0; i < 100; i++) {
        q = await queueLength(hub.metricsPort);
        if (q === null || q >= N) break;
        await sleep(100);
      }
      await sleep(1000);
      const rssQueued = procStatusKiB(hub.hub.pid, "VmRSS");
      const t0 = nowAbs();
      fake = fakeWorkers(hub.workerPort, D);
      const done = await burst.wait(
        (e) => e.event === "done",
        240_000,
        "burst drain",
      );
      const drainMs = Number(done.lastDoneAbs) - t0;
      await sleep(2000);
      const rssAfter = procStatusKiB(hub.hub.pid, "VmRSS");
      const hwm = procStatusKiB(hub.hub.pid, "VmHWM");
      data.queued = {
        base,
        queueMetric: q,
        rssQueued,
        drainMs,
        ok: done.ok,
        failed: done.failed,
        errors: done.errors,
        rssAfter,
        hwm,
      };
      o.log(
        `    queued ${q ?? "?"}; RSS ${fx(mib(rssQueued))} MiB; drained in ${
          fx(drainMs, 0)
        } ms, ok ${done.ok}, failed ${done.failed}`,
      );
      lines.push(
        [
          `${
            int(N)
          } consumer requests queued, no worker: hub RSS (queue metric: ${
            q ?? "n/a"
          })`,
          `${fx(mib(rssQueued))} MiB`,
          "—",
        ],
        [
          `… drained by ${
            int(D)
          } fresh worker connections: time from first worker connect to last response`,
          `${fx(drainMs / 1000, 2)} s`,
          "—",
        ],
        [
          `… answered 200 / failed`,
          `${int(Number(done.ok))} / ${int(Number(done.failed))}`,
          "—",
        ],
        [
          `… hub RSS afterwards (${int(D)} idle workers) / peak (VmHWM)`,
          `${fx(mib(rssAfter))} / ${fx(mib(hwm))} MiB`,
          "—",
        ],
      );
    } finally {
      if (fake) await stop(fake.proc, 3000);
      if (burst) await stop(burst.proc, 3000);
      await hub.stop();
    }
  }

  // (3) a burst of N requests against 4 one-slot workers: pothead vs HAProxy's queue
  const burstRow = async (name: string, port: number, pid: number) => {
    const sampler = sampleRss(pid, 25);
    const t0 = nowAbs();
    const b = burstClient(port, N, 180_000);
    try {
      const done = await b.wait((e) => e.event === "done", 240_000, "burst");
      const peak = Math.max(sampler.stop(), procStatusKiB(pid, "VmHWM") || 0);
      const first = Number(done.firstSendAbs);
      const ms = Number(done.lastDoneAbs) - first;
      o.log(
        `    ${name}: ${done.ok} ok, ${done.failed} failed in ${
          fx(ms, 0)
        } ms; peak RSS ${fx(mib(peak))} MiB`,
      );
      return {
        peak,
        ms,
        ok: Number(done.ok),
        failed: Number(done.failed),
        startupMs: first - t0,
      };
    } finally {
      sampler.stop();
      await stop(b.proc, 3000);
    }
  };
  const burstResults: Record<string, Awaited<ReturnType<typeof burstRow>>> = {};
  if (o.withPothead) {
    o.log(
      `  pothead: burst of ${N} requests on ${o.servers} one-slot workers …`,
    );
    const hub = await startPothead(o.servers, {
      maxQueue: N * 2,
      queueTimeout: "120s",
      nofile: 4 * N + 1000,
    });
    try {
      burstResults.pothead = await burstRow("pothead", hub.port, hub.hub.pid);
    } finally {
      await hub.stop();
    }
  }
  if (o.withHaproxy) {
    o.log(`  HAProxy leastconn maxconn 1: burst of ${N} requests …`);
    const backends = await startBackends(o.servers);
    try {
      const h = await startHaproxy("leastconn-maxconn1", backends.ports, o.dir);
      try {
        burstResults.haproxy = await burstRow("HAProxy", h.port, h.proc.pid);
      } finally {
        await h.stop();
      }
    } finally {
      await backends.stop();
    }
  }
  data.burst = burstResults;
  const p = burstResults.pothead, h = burstResults.haproxy;
  lines.push(
    [
      `burst of ${
        int(N)
      } \`GET /hello\` at once on ${o.servers} one-slot workers: balancer peak RSS`,
      p ? `${fx(mib(p.peak))} MiB` : "—",
      h ? `${fx(mib(h.peak))} MiB` : "—",
    ],
    [
      `… time from first send to last response`,
      p ? `${fx(p.ms / 1000, 2)} s` : "—",
      h ? `${fx(h.ms / 1000, 2)} s` : "—",
    ],
    [
      `… answered 200 / failed`,
      p ? `${int(p.ok)} / ${int(p.failed)}` : "—",
      h ? `${int(h.ok)} / ${int(h.failed)}` : "—",
    ],
  );
  const md = [
    "### Scale",
    "",
    "Fake workers: one process holding raw PTTH connections (handshake of DESIGN.md, then `204` to `OPTIONS *` " +
    "probes, a tiny `200` to anything else). Consumers: one process, one connection per request. RSS of the " +
    "balancer process from /proc/<pid>/status. The hard limit of open files here is 20,000 per process " +
    `(\`ulimit -Hn\`; no CAP_SYS_RESOURCE to raise it), so the drain uses 1,000 worker connections and HAProxy ` +
    `runs with maxconn ${HAPROXY_MAXCONN} (2 fds per connection; the rest wait in the kernel's accept queue).`,
    "",
    mdTable(["measure", "pothead", "HAProxy leastconn, maxconn 1"], lines),
    "",
    `Machine: ${o.machineLine}`,
    "",
  ].join("\n");
  return { markdown: md, data };
}
