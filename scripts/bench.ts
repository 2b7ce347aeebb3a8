/**
 * `deno task bench`: pothead against HAProxy, nginx and the ideal central
 * queue, one system at a time, every figure measured in this run.
 *
 * Scenarios (`--scenario`, comma-separated; default all):
 * - `tail`: tail latency, 90 % 50 ms / 10 % 500 ms jobs (`tail50`) and the
 *   5 ms-job variant, 90 % 5 ms / 10 % 50 ms (`tail5`);
 * - `overhead`: closed loop, trivial handler, 16 connections (wrk);
 * - `stream`: 1 GiB download and upload;
 * - `scale`: 10,000 idle worker connections, 10,000 queued requests.
 *
 * Writes `bench-results/` (tables as markdown, data as JSON, `latency.svg`,
 * child logs) and prints the tables. Missing HAProxy/nginx/wrk: prints the
 * install command and runs the rest.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseDuration, parseSize } from "../lib/cli/units.ts";
import { have, machine, machineLine } from "./bench/machine.ts";
import { killAllNow, setLogDir, stopAll } from "./bench/procs.ts";
import { type CpuProfile, profileReport } from "./bench/cpu_profile.ts";
import { setProfileDir } from "./bench/pothead.ts";
import { runOverhead } from "./bench/scenario_overhead.ts";
import { runScale } from "./bench/scenario_scale.ts";
import { runStream } from "./bench/scenario_stream.ts";
import { runTail } from "./bench/scenario_tail.ts";
import {
  availableSystems,
  SYSTEM_IDS,
  type SystemId,
} from "./bench/systems.ts";
import { WRK_INSTALL } from "./bench/wrk.ts";
import { type RunFigures, targetsTable } from "./bench/targets.ts";

const USAGE = `usage: deno task bench [options]
  --scenario LIST          tail,overhead,stream,scale (tail = tail50 + tail5); default all
  --systems LIST           ${SYSTEM_IDS.join(",")}; default all that apply
  --duration D             tail run per system (default 60s)
  --tail-rounds N          rounds of pothead and HAProxy maxconn 1 in the
                           50/500 ms tail run, alternating; the median counts (default 3)
  --load F                 offered load of the tail runs (default 0.8)
  --seed N                 arrival sequence seed (default 1)
  --overhead-duration D    wrk run per system (default 10s)
  --stream-size SIZE       download/upload size (default 1GiB)
  --scale-count N          idle workers / queued requests (default 10000)
  --workers N              one-slot workers / backends (default 4)
  --out DIR                results directory (default bench-results)
  --profile                run pothead's hub and workers with --cpu-prof and
                           summarise the newest profiles (use with --scenario overhead)
  -h, --help`;

function fail(msg: string): never {
  console.error(`bench: ${msg}\n${USAGE}`);
  Deno.exit(2);
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: Deno.args,
      options: {
        scenario: { type: "string", default: "tail,overhead,stream,scale" },
        systems: { type: "string", default: SYSTEM_IDS.join(",") },
        duration: { type: "string", default: "60s" },
        "tail-rounds": { type: "string", default: "3" },
        load: { type: "string", default: "0.8" },
        seed: { type: "string", default: "1" },
        "overhead-duration": { type: "string", default: "10s" },
        "stream-size": { type: "string", default: "1GiB" },
        "scale-count": { type: "string", default: "10000" },
        workers: { type: "string", default: "4" },
        out: { type: "string", default: "bench-results" },
        profile: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const num = (flag: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!(n >= min && n <= max)) {
      fail(`--${flag}: ${v} is not a number in [${min}, ${max}]`);
    }
    return n;
  };
  const dur = (flag: string, v: string) => {
    try {
      return parseDuration(v);
    } catch {
      fail(`--${flag}: bad duration ${v}`);
    }
  };
  const scenarios = new Set<string>();
  for (
    const s of args.scenario.split(",").map((x) => x.trim()).filter(Boolean)
  ) {
    if (s === "tail") {
      scenarios.add("tail50");
      scenarios.add("tail5");
    } else if (
      ["tail50", "tail5", "overhead", "stream", "scale"].includes(s)
    ) scenarios.add(s);
    else fail(`--scenario: unknown ${s}`);
  }
  const wanted = args.systems.split(",").map((x) => x.trim()).filter(
    Boolean,
  ) as SystemId[];
  for (const id of wanted) {
    if (!SYSTEM_IDS.includes(id)) fail(`--systems: unknown ${id}`);
  }
  const durationMs = dur("duration", args.duration);
  const overheadS = Math.max(
    1,
    Math.round(dur("overhead-duration", args["overhead-duration"]) / 1000),
  );
  const load = num("load", args.load, 0.01, 0.99);
  const seed = num("seed", args.seed, 0, 2 ** 32 - 1);
  const tailRounds = Math.round(num("tail-rounds", args["tail-rounds"], 1, 9));
  const workers = num("workers", args.workers, 1, 64);
  const scaleCount = num("scale-count", args["scale-count"], 1, 30000);
  let streamBytes: number;
  try {
    streamBytes = parseSize(args["stream-size"]);
  } catch {
    fail(`--stream-size: bad size ${args["stream-size"]}`);
  }

  const out = args.out;
  Deno.mkdirSync(`${out}/work`, { recursive: true });
  setLogDir(`${out}/logs`);
  const m = machine();
  const mline = machineLine(m);
  const log = (s: string) => console.error(s);
  log(`bench: ${mline}`);

  if (args.profile) setProfileDir(Deno.realPathSync(out) + "/profiles");
  const { ok, missing } = await availableSystems(wanted);
  for (const line of missing) log(`bench: ${line}`);
  const sys = (allowed: SystemId[]) =>
    SYSTEM_IDS.filter((id) => ok.has(id) && allowed.includes(id));

  const sections: string[] = [
    `## pothead benchmark`,
    "",
    `Machine: ${mline}`,
    ...missing.map((x) => `- ${x}`),
    "",
  ];
  const json: Record<string, unknown> = { machine: m, args };
  const figures: RunFigures = {};
  // every measured (and simulated) latency, ms, ascending: to re-draw or re-analyse
  const latencies: Record<string, Record<string, number[]>> = {};
  const latencyData = (rows: { name: string; sortedMs: Float64Array }[]) =>
    Object.fromEntries(
      rows.map((r) => [
        r.name,
        Array.from(r.sortedMs, (x) => Math.round(x * 100) / 100),
      ]),
    );
  const write = () => {
    Deno.writeTextFileSync(`${out}/results.md`, sections.join("\n") + "\n");
    Deno.writeTextFileSync(
      `${out}/latencies.json`,
      JSON.stringify(latencies) + "\n",
    );
    Deno.writeTextFileSync(
      `${out}/results.json`,
      JSON.stringify(json, null, 1) + "\n",
    );
  };
  const section = (name: string, md: string) => {
    sections.push(md);
    Deno.writeTextFileSync(`${out}/${name}.md`, md);
    console.log(md);
    write();
  };

  const tailSystems = sys([
    "pothead",
    "haproxy-lc",
    "haproxy-rr",
    "nginx-lc",
    "nginx-rr",
  ]);
  if (scenarios.has("tail50")) {
    log("bench: scenario tail (50/500 ms jobs)");
    const r = await runTail({
      label: "tail50",
      seed,
      durationMs,
      load,
      servers: workers,
      sizes: [{ ms: 50, weight: 0.9 }, { ms: 500, weight: 0.1 }],
      systems: tailSystems,
      rounds: tailRounds,
      repeated: ["pothead", "haproxy-lc"],
      dir: `${out}/work`,
      machineLine: mline,
      log,
    });
    Deno.writeTextFileSync(`${out}/latency.svg`, r.svg);
    latencies.tail50 = latencyData(r.rows);
    figures.tail50 = r.rows;
    json.tail50 = r.rows.map(({ sortedMs: _s, ...rest }) => rest);
    section("tail50", r.markdown + `\nChart: \`${out}/latency.svg\`.\n`);
  }
  if (scenarios.has("tail5")) {
    log("bench: scenario tail (5/50 ms jobs)");
    const r = await runTail({
      label: "tail5",
      seed,
      durationMs,
      load,
      servers: workers,
      sizes: [{ ms: 5, weight: 0.9 }, { ms: 50, weight: 0.1 }],
      systems: tailSystems,
      dir: `${out}/work`,
      machineLine: mline,
      log,
    });
    Deno.writeTextFileSync(`${out}/latency-5ms.svg`, r.svg);
    latencies.tail5 = latencyData(r.rows);
    json.tail5 = r.rows.map(({ sortedMs: _s, ...rest }) => rest);
    section("tail5", r.markdown + `\nChart: \`${out}/latency-5ms.svg\`.\n`);
  }
  if (scenarios.has("overhead")) {
    log("bench: scenario overhead");
    if (!have("wrk")) {
      log(
        `bench: wrk not found: skipping the overhead scenario. Install: ${WRK_INSTALL}`,
      );
      sections.push(
        `### Per-request overhead\n\nSkipped: wrk not found. Install: \`${WRK_INSTALL}\`\n`,
      );
    } else {
      const r = await runOverhead({
        seconds: overheadS,
        conns: 16,
        servers: workers,
        systems: sys([
          "direct",
          "pothead",
          "haproxy-lc",
          "haproxy-lc1",
          "haproxy-rr",
          "nginx-lc",
          "nginx-rr",
        ]),
        dir: `${out}/work`,
        machineLine: mline,
        log,
      });
      figures.overhead = r.rows;
      json.overhead = r.rows.map((x) => ({
        ...x,
        wrk: { ...x.wrk, raw: undefined },
      }));
      section("overhead", r.markdown);
    }
  }
  if (scenarios.has("stream")) {
    log("bench: scenario stream");
    const r = await runStream({
      bytes: streamBytes,
      servers: workers,
      systems: sys(["direct", "pothead", "haproxy-lc", "nginx-rr"]),
      dir: `${out}/work`,
      machineLine: mline,
      log,
    });
    figures.stream = r.rows;
    json.stream = r.rows;
    section("stream", r.markdown);
  }
  if (scenarios.has("scale")) {
    log("bench: scenario scale");
    const r = await runScale({
      count: scaleCount,
      servers: workers,
      withHaproxy: ok.has("haproxy-lc"),
      withPothead: ok.has("pothead"),
      dir: `${out}/work`,
      machineLine: mline,
      log,
    });
    json.scale = r.data;
    const idle = r.data.idle as { rss?: number } | undefined;
    if (idle?.rss) figures.idle = { rssKiB: idle.rss, count: scaleCount };
    section("scale", r.markdown);
  }
  const targets = targetsTable(figures);
  if (targets) section("targets", targets);
  write();
  if (args.profile) {
    for (const kind of ["hub", "worker"]) {
      const dir = `${out}/profiles/${kind}`;
      let newest: { path: string; mtime: number } | undefined;
      try {
        for (const e of Deno.readDirSync(dir)) {
          const path = `${dir}/${e.name}`;
          const mtime = Deno.statSync(path).mtime?.getTime() ?? 0;
          if (
            e.name.endsWith(".cpuprofile") && (!newest || mtime > newest.mtime)
          ) newest = { path, mtime };
        }
      } catch { /* none */ }
      if (!newest) {
        log(`bench: no ${kind} profile in ${dir}`);
        continue;
      }
      const report = profileReport(
        JSON.parse(Deno.readTextFileSync(newest.path)) as CpuProfile,
        30,
      );
      Deno.writeTextFileSync(
        `${out}/profile-${kind}.txt`,
        `${newest.path}\n${report}\n`,
      );
      console.log(
        `\n#### CPU profile, pothead ${kind} (${newest.path})\n\n${report}`,
      );
    }
  }
  log(
    `bench: results in ${out}/results.md, ${out}/results.json, ${out}/latency.svg`,
  );
  return 0;
}

let stopping = false;
const onSignal = (sig: Deno.Signal) => async () => {
  if (stopping) return;
  stopping = true;
  console.error(`bench: ${sig}: stopping every child process`);
  await stopAll(1500);
  Deno.exit(130);
};
Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
globalThis.addEventListener("unload", killAllNow);

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`bench: failed: ${(e as Error)?.stack ?? e}`);
  code = 1;
} finally {
  await stopAll(2000);
}
Deno.exit(code);
