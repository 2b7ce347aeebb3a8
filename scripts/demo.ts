/**
 * `deno task demo`: a hub and two one-slot workers serving
 * `examples/mandelbrot.ts`, each a child process whose output is shown with
 * a `[hub]` / `[worker-N]` prefix.
 *
 * ```sh
 * deno task demo                 # start, print what to try, Ctrl-C to stop
 * deno task demo --burst 20      # start, fire 20 mixed renders, print a table, stop
 * deno task demo --port 8180     # other ports (worker 8181, metrics 8182)
 * ```
 *
 * Readiness does not depend on log text: the hub is up when its metrics port
 * answers, ready when `/readyz` says 200; the workers count as connected when
 * `pothead_hub_workers` (or their log lines) say so; and the demo is ready
 * when a real consumer request comes back 200. Every wait has a deadline.
 *
 * Stopping (Ctrl-C, SIGTERM, SIGHUP, the end of a burst, or an error in this
 * script): SIGTERM to every child, SIGKILL to any still running after 10 s
 * (or at a second Ctrl-C). An `unload` handler kills what is left if this
 * script exits any other way, so no child outlives it.
 *
 * @module
 */

import { mulberry32 } from "./bench/prng.ts";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { PRESETS } from "../examples/mandelbrot.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const HUB_MODULE = `${REPO}hub.ts`;
const WORKER_MODULE = `${REPO}worker.ts`;
const APP_MODULE = `${REPO}examples/mandelbrot.ts`;
const WORKER_PROCESSES = 2;
const HOST = "127.0.0.1";

/** Deadline for the whole start-up (a first run may fetch npm packages). */
const STARTUP_TIMEOUT_MS = 60_000;
/** How long to wait for every worker to show up before going on anyway. */
const WORKERS_TIMEOUT_MS = 15_000;
/** SIGTERM → SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;
/** Upper bound of one burst request, queue wait included. */
const BURST_REQUEST_TIMEOUT_MS = 120_000;

const USAGE = `usage: deno task demo [options]

Starts a pothead hub and ${WORKER_PROCESSES} workers serving examples/mandelbrot.ts.

  --port N          consumer port (default 8080)
  --worker-port N   port the workers dial (default 4040, or N+1 with --port)
  --metrics-port N  /metrics, /readyz (default 9090, or N+2 with --port)
  --burst N         fire N mixed renders at once, print a table, stop
  --seed N          seed of the burst mix (default 1)
  --verbose         during a burst, show every log line of the children
  -h, --help        this text`;

/** What the command line asks for. */
export interface DemoOptions {
  /** Consumer port of the hub. @default {8080} */
  port: number;
  /** Port the workers dial. @default {4040} */
  workerPort: number;
  /** Port of `/metrics` and `/readyz`. @default {9090} */
  metricsPort: number;
  /** Number of burst requests; 0 for the interactive demo. @default {0} */
  burst: number;
  /** Seed of the burst mix. @default {1} */
  seed: number;
  /** Show info lines of the children during a burst. @default {false} */
  verbose: boolean;
  /** Print usage and exit. @default {false} */
  help: boolean;
}

function parseInteger(
  flag: string,
  raw: string,
  min: number,
  max: number,
): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new RangeError(
      `--${flag} must be an integer from ${min} to ${max}, got "${raw}"`,
    );
  }
  return Number(raw);
}

/**
 * Parses the demo's command line.
 *
 * Without `--worker-port` / `--metrics-port`, a non-default `--port N` moves
 * them to N+1 and N+2, so two demos can run side by side.
 *
 * @example Move every port at once
 * ```ts
 * import { parseDemoArgs } from "./demo.ts";
 * const o = parseDemoArgs(["--port", "8180", "--burst", "5"]);
 * if (o.workerPort !== 8181 || o.metricsPort !== 8182 || o.burst !== 5) throw new Error();
 * ```
 *
 * @param args The arguments after the script name.
 * @returns The options.
 * @throws {RangeError} On a bad value, naming the flag.
 * @throws {TypeError} On an unknown flag (from `parseArgs`).
 */
export function parseDemoArgs(args: string[]): DemoOptions {
  const { values, positionals } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      "worker-port": { type: "string" },
      "metrics-port": { type: "string" },
      burst: { type: "string" },
      seed: { type: "string" },
      verbose: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) {
    throw new RangeError(`unexpected argument "${positionals[0]}"`);
  }
  const port = values.port === undefined
    ? 8080
    : parseInteger("port", values.port, 1, 65533);
  const moved = port !== 8080;
  const options: DemoOptions = {
    port,
    workerPort: values["worker-port"] !== undefined
      ? parseInteger("worker-port", values["worker-port"], 1, 65535)
      : moved
      ? port + 1
      : 4040,
    metricsPort: values["metrics-port"] !== undefined
      ? parseInteger("metrics-port", values["metrics-port"], 1, 65535)
      : moved
      ? port + 2
      : 9090,
    burst: values.burst === undefined
      ? 0
      : parseInteger("burst", values.burst, 1, 10_000),
    seed: values.seed === undefined
      ? 1
      : parseInteger("seed", values.seed, 0, 2 ** 32 - 1),
    verbose: values.verbose ?? false,
    help: values.help ?? false,
  };
  const ports = [options.port, options.workerPort, options.metricsPort];
  if (new Set(ports).size !== ports.length) {
    throw new RangeError(
      `the three ports must differ, got ${ports.join(", ")}`,
    );
  }
  return options;
}

// ---------------------------------------------------------------- output

const COLOUR = Deno.stdout.isTerminal() && !Deno.noColor;
const paint = (code: number) => (s: string) =>
  COLOUR ? `\x1b[${code}m${s}\x1b[0m` : s;
const bold = paint(1), dim = paint(2), red = paint(31), yellow = paint(33);
const CHILD_COLOURS = [paint(36), paint(35), paint(32), paint(34)];

function say(line = ""): void {
  console.log(line);
}

function warn(line: string): void {
  console.error(`${yellow("demo:")} ${line}`);
}

/** Severity of a child's log line, or undefined when it has none we know. */
function levelOf(line: string): string | undefined {
  if (line.startsWith("{")) {
    try {
      const level = (JSON.parse(line) as { level?: unknown }).level;
      return typeof level === "string" ? level.toLowerCase() : undefined;
    } catch {
      return undefined;
    }
  }
  const m = /^(?:\S+\s+)?(DEBUG|INFO|WARN|WARNING|ERROR)\b/i.exec(line);
  const level = m?.[1].toLowerCase();
  return level === "warning" ? "warn" : level;
}

/** Shortens a log line for the terminal: the timestamp goes, JSON becomes text. */
function tidy(line: string): string {
  if (line.startsWith("{")) {
    try {
      const { time: _time, level, msg, ...rest } = JSON.parse(line) as Record<
        string,
        unknown
      >;
      const fields = Object.entries(rest).map(([k, v]) =>
        `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`
      );
      return [String(level ?? "").toUpperCase(), String(msg ?? ""), ...fields]
        .join(" ").trim();
    } catch {
      return line;
    }
  }
  return line.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\s+/, "");
}

// ---------------------------------------------------------------- children

/** A child process with its output pumped line by line. */
class Child {
  readonly name: string;
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  readonly output: Promise<void>;
  exited = false;
  #process: Deno.ChildProcess;

  constructor(
    name: string,
    args: string[],
    env: Record<string, string>,
    onLine: (child: Child, line: string) => void,
  ) {
    this.name = name;
    this.#process = new Deno.Command(Deno.execPath(), {
      args,
      env,
      clearEnv: true,
      cwd: REPO,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#process.pid;
    this.status = this.#process.status.then((s) => {
      this.exited = true;
      return s;
    });
    this.output = Promise.all([
      pumpLines(this.#process.stdout, (l) => onLine(this, l)),
      pumpLines(this.#process.stderr, (l) => onLine(this, l)),
    ]).then(() => {});
  }

  /** Sends a signal unless the process has exited already. */
  kill(signal: Deno.Signal): void {
    if (this.exited) return;
    try {
      this.#process.kill(signal);
    } catch {
      // It exited between the check and the kill: nothing to do.
    }
  }
}

async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let pending = "";
  try {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, nl).replace(/\r$/, ""));
        pending = pending.slice(nl + 1);
      }
      // A child that never ends its line must not grow this without bound.
      if (pending.length > 64 * 1024) {
        onLine(pending);
        pending = "";
      }
    }
  } catch {
    // The pipe broke (the child was killed): what was read is all there is.
  }
  if (pending !== "") onLine(pending);
}

/** The environment of the children: this one without pothead's own settings. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("POTHEAD_") && !k.startsWith("PROMETHEUS_")) env[k] = v;
  }
  // Their output is shown inside ours: colour only when ours is a terminal.
  if (!COLOUR) env.NO_COLOR = "1";
  return { ...env, ...extra };
}

// ---------------------------------------------------------------- helpers

class DemoError extends Error {}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Is a port free on the loopback address? */
function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: HOST, port }).close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return false;
    throw e;
  }
}

/** GET with a short timeout; resolves to the status and body, or undefined when nothing answered. */
async function probe(
  url: string,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<{ status: number; body: string } | undefined> {
  try {
    const signal = AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]);
    const res = await fetch(url, { signal });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

/** Sum of `pothead_hub_workers` series in a Prometheus text page (idle + busy). */
function connectedWorkers(metrics: string): number | undefined {
  let sum: number | undefined;
  for (const line of metrics.split("\n")) {
    const m = /^pothead_hub_workers(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) sum = (sum ?? 0) + Number(m[1]);
  }
  return sum;
}

/** "p50 … · p95 … · max …" in milliseconds (nearest-rank percentiles). */
function spread(values: number[]): string {
  if (values.length === 0) return "-";
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  return `p50 ${ms(at(50))} · p95 ${ms(at(95))} · max ${
    ms(sorted[sorted.length - 1])
  }`;
}

/** The `dur` of the `queue` metric of a `Server-Timing` field, in ms. */
function queueWaitMs(serverTiming: string | null): number | undefined {
  for (const metric of (serverTiming ?? "").split(",")) {
    const [name, ...params] = metric.split(";").map((p) => p.trim());
    if (name !== "queue") continue;
    const dur = params.find((p) => p.startsWith("dur="))?.slice(4);
    return dur === undefined ? undefined : Number(dur);
  }
  return undefined;
}

/** Length of a string on the terminal: colour codes take no room. */
function visible(s: string): number {
  // deno-lint-ignore no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, "").length;
}

/** Renders a table: the columns in `right` right-aligned, the others left-aligned. */
function table(head: string[], rows: string[][], right: Set<number>): string[] {
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => visible(r[i])))
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => {
      const pad = " ".repeat(widths[i] - visible(c));
      return right.has(i) ? pad + c : c + pad;
    }).join("  ").trimEnd();
  return [bold(line(head)), ...rows.map(line)];
}

// ---------------------------------------------------------------- the demo

interface BurstResult {
  view: string;
  zoom: string;
  iter: string;
  size: string;
  status: number | "error";
  error?: string;
  latencyMs: number;
  queueMs?: number;
  renderMs?: number;
  worker: string;
}

const BURST_COLUMNS = [
  "#",
  "view",
  "zoom",
  "iter",
  "size",
  "status",
  "latency ms",
  "queue ms",
  "render ms",
  "worker",
];
/** Right-aligned columns of the burst table. */
const BURST_NUMERIC = new Set([0, 2, 3, 4, 6, 7, 8]);

class Demo {
  readonly #options: DemoOptions;
  readonly #children: Child[] = [];
  /** Levels of the children's lines not shown now (a burst keeps quiet). */
  #hiddenLevels = new Set<string>();
  #hidden = 0;
  /** Worker processes seen connected in their own or the hub's log lines. */
  readonly #connectedByLog = new Set<string>();
  readonly #stop = new AbortController();
  readonly #stopped: Promise<void>;
  readonly #force = Promise.withResolvers<void>();
  #stopping: Promise<void> | undefined;
  #stopAskedAt: number | undefined;

  constructor(options: DemoOptions) {
    this.#options = options;
    this.#stopped = new Promise<void>((resolve) =>
      this.#stop.signal.addEventListener("abort", () => resolve(), {
        once: true,
      })
    );
  }

  #probe(url: string, timeoutMs: number) {
    return probe(url, timeoutMs, this.#stop.signal);
  }

  get #consumer(): string {
    return `http://${HOST}:${this.#options.port}`;
  }

  get #metrics(): string {
    return `http://${HOST}:${this.#options.metricsPort}`;
  }

  /** Aborted when a signal asks the demo to stop. */
  get stopSignal(): AbortSignal {
    return this.#stop.signal;
  }

  /**
   * First signal: stop gracefully. A repeat after a second: kill at once.
   * Repeats within that second are one Ctrl-C seen twice: the terminal
   * signals this process directly, and `deno task` forwards it again.
   */
  requestStop(signal: string): void {
    if (this.#stopAskedAt === undefined) {
      this.#stopAskedAt = performance.now();
      say(dim(`\n${signal}: stopping`));
      this.#stop.abort(new DemoError(signal));
      return;
    }
    if (performance.now() - this.#stopAskedAt < 1_000) return;
    say(yellow(`${signal} again: killing the children now`));
    this.#force.resolve();
  }

  #onLine = (child: Child, line: string): void => {
    if (line.includes("worker connected")) {
      if (child.name !== "hub") this.#connectedByLog.add(child.name);
      for (const c of this.#children) {
        if (c.name !== "hub" && line.includes(`/${c.pid}/`)) {
          this.#connectedByLog.add(c.name);
        }
      }
    }
    const level = levelOf(line);
    if (level !== undefined && this.#hiddenLevels.has(level)) {
      this.#hidden++;
      return;
    }
    const index = this.#children.indexOf(child);
    const tag = CHILD_COLOURS[index % CHILD_COLOURS.length](
      `[${child.name}]`.padEnd(10),
    );
    const text = tidy(line);
    say(
      `${tag} ${
        level === "error" ? red(text) : level === "warn" ? yellow(text) : text
      }`,
    );
  };

  #spawn(
    name: string,
    args: string[],
    env: Record<string, string> = {},
  ): Child {
    const child = new Child(
      name,
      ["run", "-A", ...args],
      childEnv(env),
      this.#onLine,
    );
    this.#children.push(child);
    return child;
  }

  /** Resolves with the first child to exit (each only once). */
  #anyExit(): Promise<Child> {
    return Promise.race(this.#children.map((c) => c.status.then(() => c)));
  }

  /**
   * Polls `check`, backing off from 50 ms to 500 ms, until it returns true.
   * Throws when a child exits, a stop is asked for, or the deadline passes.
   */
  async #waitFor(
    what: string,
    deadline: number,
    check: () => Promise<boolean>,
  ): Promise<void> {
    let delay = 50;
    let exited: Child | undefined;
    const exit = this.#anyExit().then((c) => exited = c);
    while (true) {
      if (await check()) return;
      this.#stop.signal.throwIfAborted();
      if (exited) {
        const { code } = await exited.status;
        throw new DemoError(
          `${exited.name} exited (code ${code}) while waiting for ${what}; see its output above`,
        );
      }
      if (Date.now() >= deadline) {
        throw new DemoError(`timed out waiting for ${what}`);
      }
      await Promise.race([
        sleep(Math.min(delay, Math.max(0, deadline - Date.now()))),
        exit,
        this.#stopped,
      ]);
      delay = Math.min(delay * 2, 500);
    }
  }

  /** Starts the processes and waits until a consumer request succeeds. */
  async start(): Promise<void> {
    const o = this.#options;
    const t0 = performance.now();
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    say(
      bold(
        `pothead demo: a hub and ${WORKER_PROCESSES} workers serving examples/mandelbrot.ts`,
      ),
    );
    this.#spawn("hub", [
      HUB_MODULE,
      "--listen",
      `${HOST}:${o.port}`,
      "--worker-listen",
      `${HOST}:${o.workerPort}`,
      "--metrics-listen",
      `${HOST}:${o.metricsPort}`,
    ]);
    const slow = setTimeout(
      () =>
        say(dim("(still starting: a first run may be fetching npm packages)")),
      5_000,
    );
    try {
      // The hub answers on its metrics port, whatever /readyz says yet: start the workers.
      await this.#waitFor("the hub to start", deadline, async () => {
        return (await this.#probe(`${this.#metrics}/readyz`, 1_000)) !==
          undefined;
      });
      for (let i = 1; i <= WORKER_PROCESSES; i++) {
        this.#spawn(
          `worker-${i}`,
          [
            WORKER_MODULE,
            "--connect",
            `${HOST}:${o.workerPort}`,
            "--workers",
            "1",
            APP_MODULE,
          ],
          // Several workers on one host: their own metrics ports would clash.
          { PROMETHEUS_PORT: "0" },
        );
      }
      await this.#waitFor(
        "the hub's /readyz to answer 200",
        deadline,
        async () => {
          return (await this.#probe(`${this.#metrics}/readyz`, 1_000))
            ?.status === 200;
        },
      );
      const workersDeadline = Math.min(
        deadline,
        Date.now() + WORKERS_TIMEOUT_MS,
      );
      let seen = 0;
      try {
        await this.#waitFor(
          "the workers to connect",
          workersDeadline,
          async () => {
            const page = await this.#probe(`${this.#metrics}/metrics`, 1_000);
            const byMetrics = page?.status === 200
              ? connectedWorkers(page.body) ?? 0
              : 0;
            seen = Math.max(byMetrics, this.#connectedByLog.size);
            return seen >= WORKER_PROCESSES;
          },
        );
      } catch (e) {
        if (!(e instanceof DemoError) || !e.message.startsWith("timed out")) {
          throw e;
        }
        warn(
          `only ${seen} of ${WORKER_PROCESSES} workers seen connected; going on`,
        );
      }
      await this.#waitFor(
        "a first render through the hub",
        deadline,
        async () => {
          return (await this.#probe(
            `${this.#consumer}/render?size=16&iter=10`,
            10_000,
          ))?.status === 200;
        },
      );
    } finally {
      clearTimeout(slow);
    }
    say(dim(`ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`));
  }

  /** Prints what to try, then waits for Ctrl-C or a child's death. */
  async interactive(): Promise<number> {
    const example = PRESETS[1].query;
    say();
    say(`  ${bold("open")}     ${this.#consumer}/`);
    const curl = `curl -o m.png '${this.#consumer}/render?${example}'`;
    say(`  ${bold("curl")}     ${curl}`);
    say(
      `  ${
        bold("status")
      }   ${this.#metrics}/   (live queue, workers and waits)`,
    );
    say(`  ${bold("metrics")}  ${this.#metrics}/metrics`);
    say(
      `  ${
        bold("burst")
      }    deno task demo --burst 20   (20 mixed renders, a table of who served what)`,
    );
    say();
    say(`  Ctrl-C to stop`);
    say();
    const died = await Promise.race([
      this.#stopped.then(() => undefined),
      this.#anyExit(),
    ]);
    if (died === undefined) return 0;
    // Stopping for another reason (an unexpected error): that path reports it.
    if (this.#stopping !== undefined) return 1;
    const { code } = await died.status;
    warn(`${died.name} exited unexpectedly (code ${code}); stopping the demo`);
    return 1;
  }

  /** Fires the burst, prints the table and summary; returns the exit code. */
  async burst(): Promise<number> {
    const { burst: n, seed, verbose } = this.#options;
    const rand = mulberry32(seed);
    const pick = <T>(items: readonly T[]): T =>
      items[Math.floor(rand() * items.length)];
    const jobs = Array.from({ length: n }, () => {
      const preset = pick(PRESETS);
      const q = new URLSearchParams(preset.query);
      q.set("size", String(pick([256, 384, 512])));
      const iter = Math.round(Number(q.get("iter")) * pick([0.5, 1, 1.5]));
      q.set("iter", String(Math.max(10, Math.min(5000, iter))));
      return { view: preset.name, q };
    });
    say();
    say(bold(`firing ${n} renders at once (seed ${seed})…`));
    if (!verbose) this.#hiddenLevels = new Set(["debug", "info"]);
    const t0 = performance.now();
    const pidNames = new Map(
      this.#children.map((c) => [String(c.pid), c.name]),
    );
    const results = await Promise.all(
      jobs.map((job) => this.#burstRequest(job.view, job.q, pidNames)),
    );
    const wallMs = performance.now() - t0;
    // What the children log while they stop after a burst is routine too.
    if (!verbose) this.#hiddenLevels = new Set(["debug", "info", "warn"]);
    if (this.#stop.signal.aborted) return 0;

    const ms = (v: number | undefined) => v === undefined ? "-" : v.toFixed(0);
    say();
    const rows = results.map((r, i) => [
      String(i + 1),
      r.view,
      r.zoom,
      r.iter,
      r.size,
      r.status === 200 ? String(r.status) : red(String(r.status)),
      ms(r.latencyMs),
      ms(r.queueMs),
      ms(r.renderMs),
      r.worker || (r.error ? red(r.error.slice(0, 60)) : "?"),
    ]);
    for (const line of table(BURST_COLUMNS, rows, BURST_NUMERIC)) say(line);

    const failed = results.filter((r) => r.status !== 200);
    const perWorker = new Map<string, number>();
    for (const r of results.filter((r) => r.status === 200)) {
      perWorker.set(r.worker, (perWorker.get(r.worker) ?? 0) + 1);
    }
    const served = [...perWorker].sort(([a], [b]) => a.localeCompare(b))
      .map(([worker, count]) => `${worker || "?"}: ${count}`);
    const outcome = failed.length === 0
      ? "all 200"
      : red(`${failed.length} failed`);
    say();
    say(`${n} requests in ${(wallMs / 1000).toFixed(1)} s: ${outcome}`);
    say(`latency     ${spread(results.map((r) => r.latencyMs))}`);
    say(`queue wait  ${spread(results.flatMap((r) => r.queueMs ?? []))}`);
    say(`served by   ${served.join(" · ") || "none"}`);
    return failed.length === 0 ? 0 : 1;
  }

  /** One request of a burst, timed; never throws. */
  async #burstRequest(
    view: string,
    q: URLSearchParams,
    pidNames: Map<string, string>,
  ): Promise<BurstResult> {
    const base = {
      view,
      zoom: q.get("zoom") ?? "1",
      iter: q.get("iter") ?? "",
      size: q.get("size") ?? "",
    };
    const started = performance.now();
    try {
      const res = await fetch(`${this.#consumer}/render?${q}`, {
        signal: AbortSignal.any([
          this.#stop.signal,
          AbortSignal.timeout(BURST_REQUEST_TIMEOUT_MS),
        ]),
      });
      await res.arrayBuffer();
      const render = res.headers.get("x-render-ms");
      // Pothead-Worker: <host>/<pid>/<slot>; our own children by their names.
      const served = res.headers.get("pothead-worker");
      const pid = served?.split("/").at(-2) ?? "";
      return {
        ...base,
        status: res.status,
        error: res.headers.get("pothead-error") ?? undefined,
        latencyMs: performance.now() - started,
        queueMs: queueWaitMs(res.headers.get("server-timing")),
        renderMs: render === null ? undefined : Number(render),
        worker: served === null ? "" : pidNames.get(pid) ?? served,
      };
    } catch (e) {
      return {
        ...base,
        status: "error",
        error: e instanceof Error ? e.message : String(e),
        latencyMs: performance.now() - started,
        worker: "",
      };
    }
  }

  /** SIGTERM to every child; SIGKILL after the timeout or on a second Ctrl-C. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const alive = this.#children.filter((c) => !c.exited);
      if (alive.length > 0) {
        say(dim(`stopping ${alive.map((c) => c.name).join(", ")}…`));
        for (const c of alive) c.kill("SIGTERM");
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
        });
        const outcome = await Promise.race([
          Promise.all(alive.map((c) => c.status)).then(() => "done" as const),
          timeout,
          this.#force.promise.then(() => "force" as const),
        ]);
        clearTimeout(timer);
        if (outcome !== "done") {
          const left = alive.filter((c) => !c.exited);
          if (outcome === "timeout") {
            warn(
              `${left.map((c) => c.name).join(", ")} still running after ${
                STOP_TIMEOUT_MS / 1000
              } s: SIGKILL`,
            );
          }
          for (const c of left) c.kill("SIGKILL");
          await Promise.all(alive.map((c) => c.status));
        }
      }
      // Let the last lines of output through, but do not hang on a pipe held open elsewhere.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(this.#children.map((c) => c.output)),
        new Promise<void>((resolve) => timer = setTimeout(resolve, 1_000)),
      ]);
      clearTimeout(timer);
      if (alive.length === 0) return;
      const hidden = this.#hidden === 0
        ? ""
        : ` (${this.#hidden} log lines of the children hidden; --verbose shows them)`;
      say(dim(`stopped${hidden}`));
    })();
    return this.#stopping;
  }

  /** Last resort when the process exits without {@linkcode stop}: no orphans. */
  killNow(): void {
    for (const c of this.#children) c.kill("SIGKILL");
  }
}

/**
 * Runs the demo; resolves with the process exit code.
 *
 * @param args The command line after the script name.
 * @returns 0 when stopped by a signal or after a clean burst, 1 on a failure, 2 on a usage error.
 */
export async function main(args: string[]): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseDemoArgs(args);
  } catch (e) {
    // parseArgs adds a hint about "--" that does not apply here.
    const message = (e as Error).message.replace(
      / To specify a positional .*$/s,
      "",
    );
    console.error(`demo: ${message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    say(USAGE);
    return 0;
  }
  for (const module of [HUB_MODULE, WORKER_MODULE, APP_MODULE]) {
    try {
      Deno.statSync(module);
    } catch {
      console.error(
        `${red("demo:")} ${module} is missing: is this a complete checkout?`,
      );
      return 1;
    }
  }
  const ports: Array<[number, string, string]> = [
    [options.port, "consumer", "--port"],
    [options.workerPort, "worker", "--worker-port"],
    [options.metricsPort, "metrics", "--metrics-port"],
  ];
  for (const [port, role, flag] of ports) {
    if (portIsFree(port)) continue;
    const suggestion = flag === "--port" ? options.port + 100 : port + 100;
    console.error(
      `${
        red("demo:")
      } port ${port} (${role}) is already in use: is another demo or server running?\n` +
        `      try: deno task demo ${flag} ${suggestion}`,
    );
    return 1;
  }

  const demo = new Demo(options);
  const onUnload = () => demo.killNow();
  globalThis.addEventListener("unload", onUnload);
  const onUnhandled = (e: PromiseRejectionEvent) => {
    // An unexpected error anywhere: report it and take the children down with us.
    e.preventDefault();
    warn(
      `unexpected error: ${
        e.reason instanceof Error ? e.reason.stack : String(e.reason)
      }`,
    );
    demo.stop().finally(() => Deno.exit(1));
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    warn(
      `unexpected error: ${
        e.error instanceof Error ? e.error.stack : e.message
      }`,
    );
    demo.stop().finally(() => Deno.exit(1));
  };
  globalThis.addEventListener("error", onError);
  const handlers: Array<[Deno.Signal, () => void]> = [];
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = () => demo.requestStop(signal);
    try {
      Deno.addSignalListener(signal, handler);
      handlers.push([signal, handler]);
    } catch {
      // Not every signal exists on every platform (Windows has SIGINT only).
    }
  }

  try {
    await demo.start();
    return options.burst > 0 ? await demo.burst() : await demo.interactive();
  } catch (e) {
    if (demo.stopSignal.aborted) return 0;
    console.error(
      `${red("demo:")} ${
        e instanceof DemoError ? e.message : (e as Error).stack
      }`,
    );
    return 1;
  } finally {
    await demo.stop();
    for (const [signal, handler] of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unload", onUnload);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
