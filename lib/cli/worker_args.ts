/**
 * The worker's command line: a pure `string[] → options` parser.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type HostPort, parseHostPort } from "./address.ts";
import { parseDuration, parseSize } from "./units.ts";
import {
  parseFlag,
  parsePositiveInt,
  UsageError,
  usageErrorFrom,
} from "./usage_error.ts";

/** The worker's settings, from flags and environment. */
export interface WorkerArgs {
  /** Hubs to dial. */
  connect: HostPort[];
  /** Fixed slots. */
  workers: number;
  /** Dynamic concurrency. */
  pollJobs: boolean;
  /** Child processes. */
  processes: number;
  /** Built-in gate: CPUs each job needs, or null. */
  gateCpu: number | null;
  /** Built-in gate: bytes each job needs, or null. */
  gateMemory: number | null;
  /** Built-in gate: most concurrent jobs, or null. */
  maxConcurrent: number | null;
  /** Pool to serve. */
  pool: string;
  /** Token file, or null. */
  tokenFile: string | null;
  /** Token from `POTHEAD_WORKER_TOKEN`, or null. */
  tokenEnv: string | null;
  /** Redirect successful responses. */
  redirectResponse: boolean;
  /** Where redirected bodies are served. */
  redirectListen: HostPort;
  /** Base of the Location, or null for `http://<hostname>:<port>`. */
  redirectUrl: string | null;
  /** Lifetime of an unclaimed redirected body (ms). */
  redirectTtlMs: number;
  /** TLS to the hub. */
  tls: boolean;
  /** CA file for the hub's certificate. */
  caFile: string | null;
  /** Client certificate file. */
  cert: string | null;
  /** Client key file. */
  key: string | null;
  /** Metrics port (`PROMETHEUS_PORT`), 0 = off. */
  metricsPort: number;
  /** `PROMETHEUS_MULTIPROC_DIR`, or null. */
  multiprocDir: string | null;
  /** Log line format. */
  logFormat: "text" | "json";
  /** App module specifier, or null for the demo app. */
  app: string | null;
  /** `--help` was given. */
  help: boolean;
}

/** The worker's usage text. */
export const WORKER_USAGE = `Usage: pothead-worker [options] [APP]

Dials the hub and serves queued requests with APP (a module exporting
default { fetch(req, info) }, or a function; './app.ts:name' picks an export).
Without APP, a demo app answers.

Options:
  --connect HOST:PORT        hub to dial, repeatable [env POTHEAD_CONNECT, comma-separated] (localhost:4040)
  --workers N                fixed concurrency: N persistent slots [env POTHEAD_WORKERS] (1)
  --poll-jobs                dynamic concurrency: wait for app.waitForSlot or the gates, one connection per job
  --gate-cpu CPUS            built-in gate: idle CPUs each job needs
  --gate-memory SIZE         built-in gate: available memory each job needs
  --max-concurrent N         built-in gate: most jobs at once
  --processes P              run P child processes, each with the slots above (1)
  --pool NAME                queue to serve [env POTHEAD_POOL] (default)
  --token-file FILE          token for the hub [env POTHEAD_WORKER_TOKEN]
  --redirect-response        answer 200s with 303 to this worker's redirect port
  --redirect-listen HOST:PORT  where redirected bodies are served (0.0.0.0:8081)
  --redirect-url URL         base of the Location (http://<hostname>:<port>)
  --redirect-ttl DURATION    an unclaimed redirected body is dropped after this (30s)
  --tls                      TLS to the hub
  --ca-file FILE             CA certificate for the hub's certificate
  --cert FILE --key FILE     client certificate for mutual TLS
  --log-format text|json     one line per event (text)
  -h, --help                 this text

Environment: PROMETHEUS_PORT (9090; 0 = off), PROMETHEUS_MULTIPROC_DIR.`;

/**
 * Parses the worker's flags.
 *
 * @param args the command-line arguments
 * @param env the environment @default {Deno.env.toObject()}
 * @returns the settings
 * @throws {UsageError} naming the bad flag
 *
 * @example
 * ```ts
 * import { parseWorkerArgs } from "./worker_args.ts";
 * const a = parseWorkerArgs(["--connect", "hub:4040", "--workers", "4", "app.ts"], {});
 * if (a.workers !== 4 || a.app !== "app.ts") throw new Error();
 * ```
 */
export function parseWorkerArgs(
  args: string[],
  env: Record<string, string | undefined> = Deno.env.toObject(),
): WorkerArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        "connect": { type: "string", multiple: true },
        "workers": { type: "string" },
        "poll-jobs": { type: "boolean" },
        "processes": { type: "string" },
        "gate-cpu": { type: "string" },
        "gate-memory": { type: "string" },
        "max-concurrent": { type: "string" },
        "pool": { type: "string" },
        "token-file": { type: "string" },
        "redirect-response": { type: "boolean" },
        "redirect-listen": { type: "string" },
        "redirect-url": { type: "string" },
        "redirect-ttl": { type: "string" },
        "tls": { type: "boolean" },
        "ca-file": { type: "string" },
        "cert": { type: "string" },
        "key": { type: "string" },
        "log-format": { type: "string" },
        "help": { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw usageErrorFrom(err);
  }
  const v = parsed.values;
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `expected at most one APP, got ${parsed.positionals.length}: ${
        parsed.positionals.join(" ")
      }`,
    );
  }
  const connectTexts = v.connect ??
    (env.POTHEAD_CONNECT
      ? env.POTHEAD_CONNECT.split(",").map((s) => s.trim()).filter(Boolean)
      : ["localhost:4040"]);
  const connect = connectTexts.map((t) =>
    parseFlag(v.connect ? "--connect" : "POTHEAD_CONNECT", t, (x) => {
      const a = parseHostPort(x, "");
      if (!a.hostname) throw new SyntaxError(`'${x}' has no host`);
      if (a.port === 0) throw new SyntaxError(`'${x}' has port 0`);
      return a;
    })
  );
  const logFormat = v["log-format"] ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(
      `--log-format: expected 'text' or 'json', got '${logFormat}'`,
    );
  }
  if ((v.cert === undefined) !== (v.key === undefined)) {
    throw new UsageError("--cert and --key must be given together");
  }
  const gateCpu = v["gate-cpu"] !== undefined
    ? parseFlag("--gate-cpu", v["gate-cpu"], (t) => {
      const n = Number(t);
      if (!(n > 0) || !Number.isFinite(n)) {
        throw new SyntaxError(`expected a number of CPUs above 0, got '${t}'`);
      }
      return n;
    })
    : null;
  const gateMemory = v["gate-memory"] !== undefined
    ? parseFlag("--gate-memory", v["gate-memory"], parseSize)
    : null;
  const maxConcurrent = v["max-concurrent"] !== undefined
    ? parseFlag("--max-concurrent", v["max-concurrent"], parsePositiveInt)
    : null;
  const pollJobs = v["poll-jobs"] ?? false;
  if (
    !pollJobs &&
    (gateCpu !== null || gateMemory !== null || maxConcurrent !== null)
  ) {
    throw new UsageError(
      "--gate-cpu, --gate-memory and --max-concurrent need --poll-jobs (they decide when to pull the next job)",
    );
  }
  if (pollJobs && v.workers !== undefined) {
    throw new UsageError(
      "--workers and --poll-jobs exclude each other: --poll-jobs decides concurrency from its gate",
    );
  }
  const metricsPortText = env.PROMETHEUS_PORT ?? "9090";
  const metricsPort = parseFlag("PROMETHEUS_PORT", metricsPortText, (t) => {
    if (!/^\d{1,5}$/.test(t) || Number(t) > 65535) {
      throw new SyntaxError(`expected a port, got '${t}'`);
    }
    return Number(t);
  });
  return {
    connect,
    workers: parseFlag(
      v.workers !== undefined ? "--workers" : "POTHEAD_WORKERS",
      v.workers ?? env.POTHEAD_WORKERS ?? "1",
      parsePositiveInt,
    ),
    pollJobs,
    processes: parseFlag("--processes", v.processes ?? "1", parsePositiveInt),
    gateCpu,
    gateMemory,
    maxConcurrent,
    pool: v.pool ?? env.POTHEAD_POOL ?? "default",
    tokenFile: v["token-file"] ?? null,
    tokenEnv: env.POTHEAD_WORKER_TOKEN || null,
    redirectResponse: v["redirect-response"] ?? false,
    redirectListen: parseFlag(
      "--redirect-listen",
      v["redirect-listen"] ?? "0.0.0.0:8081",
      (t) => parseHostPort(t),
    ),
    redirectUrl: v["redirect-url"] !== undefined
      ? parseFlag("--redirect-url", v["redirect-url"], (t) => {
        const u = new URL(t);
        if (u.protocol !== "http:" && u.protocol !== "https:") {
          throw new SyntaxError(`expected an http(s) URL, got '${t}'`);
        }
        return t.replace(/\/+$/, "");
      })
      : null,
    redirectTtlMs: parseFlag(
      "--redirect-ttl",
      v["redirect-ttl"] ?? "30s",
      parseDuration,
    ),
    tls: (v.tls ?? false) || v["ca-file"] !== undefined || v.cert !== undefined,
    caFile: v["ca-file"] ?? null,
    cert: v.cert ?? null,
    key: v.key ?? null,
    metricsPort,
    multiprocDir: env.PROMETHEUS_MULTIPROC_DIR || null,
    logFormat,
    app: parsed.positionals[0] ?? null,
    help: v.help ?? false,
  };
}
