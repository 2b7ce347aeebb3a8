/**
 * The hub's command line: a pure `string[] → options` parser, so it can be
 * tested without starting anything.
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

/** The hub's settings, from flags and environment. */
export interface HubArgs {
  /** Consumer port. */
  listen: HostPort;
  /** Worker port (PTTH). */
  workerListen: HostPort;
  /** Legacy worker port, or null. */
  legacyWorkerListen: HostPort | null;
  /** Whether the legacy port may open on a non-loopback address while a token is set. */
  allowUnauthenticatedLegacy: boolean;
  /** Metrics port, or null when `--metrics-listen off`. */
  metricsListen: HostPort | null;
  /** Queue limit per pool. */
  maxQueue: number;
  /** Queue timeout (ms). */
  queueTimeoutMs: number;
  /** Response head timeout (ms). */
  responseTimeoutMs: number;
  /** Longest stall of a worker's response body (ms). */
  bodyIdleTimeoutMs: number;
  /** Drain timeout (ms). */
  drainTimeoutMs: number;
  /** File with the worker token, or null. */
  workerTokenFile: string | null;
  /** The token from `POTHEAD_WORKER_TOKEN`, or null. */
  workerTokenEnv: string | null;
  /** Config file, or null. */
  config: string | null;
  /** Serve `POST /-/reload` on the metrics port (`--enable-reload-endpoint`). */
  enableReloadEndpoint: boolean;
  /** TLS certificate and key files for the consumer port. */
  tlsCert: string | null;
  /** See tlsCert. */
  tlsKey: string | null;
  /** TLS certificate and key files for the worker port. */
  workerTlsCert: string | null;
  /** See workerTlsCert. */
  workerTlsKey: string | null;
  /** CA file for worker client certificates. */
  workerClientCa: string | null;
  /** Largest consumer body (bytes). */
  maxBodySize: number;
  /** Log line format. */
  logFormat: "text" | "json";
  /** `--help` was given. */
  help: boolean;
}

/** The hub's usage text. */
export const HUB_USAGE = `Usage: pothead-hub [options]

Consumers send HTTP requests to --listen; workers dial --worker-listen and
pull queued requests when they have room.

Options:
  --listen HOST:PORT             consumer port [env POTHEAD_LISTEN] (0.0.0.0:8080)
  --main-port N                  same as --listen 0.0.0.0:N
  --worker-listen HOST:PORT      worker port, PTTH handshake [env POTHEAD_WORKER_LISTEN] (0.0.0.0:4040)
  --worker-port N                same as --worker-listen 0.0.0.0:N
  --legacy-worker-listen HOST:PORT
                                 port for workers of the original protocol (off)
  --allow-unauthenticated-legacy open the legacy port beyond loopback while a token is set
  --metrics-listen HOST:PORT|off /metrics, /healthz, /readyz [env PROMETHEUS_PORT: port only] (0.0.0.0:9090)
  --max-queue N                  waiting requests per pool before 503 queue-full (1000)
  --queue-timeout DURATION       wait for a worker before 503 queue-timeout (30s)
  --response-timeout DURATION    dispatch to response head before 504 (300s)
  --body-idle-timeout DURATION   a worker's response body stalled this long is cut off (60s)
  --drain-timeout DURATION       on SIGTERM/SIGINT, finish queued and in-flight work (30s)
  --worker-token-file FILE       workers must present this token [env POTHEAD_WORKER_TOKEN]
  --config FILE                  pools and routes (JSON with comments); SIGHUP re-reads it
  --enable-reload-endpoint       POST /-/reload on the metrics port re-reads --config (off)
  --tls-cert FILE --tls-key FILE TLS on the consumer port
  --worker-tls-cert FILE --worker-tls-key FILE
                                 TLS on the worker port
  --worker-client-ca FILE        require worker client certificates from this CA
  --max-body-size SIZE           larger consumer bodies get 413 (unlimited)
  --log-format text|json         one line per event (text)
  -h, --help                     this text

Durations: 250ms, 30s, 5m. Sizes: 64KiB, 512MiB.`;

/**
 * The environment variables the hub reads, and the only ones: the compiled
 * hub is allowed exactly these (`--allow-env=…`, `scripts/compile.ts`).
 */
export const HUB_ENV_VARS: readonly string[] = [
  "POTHEAD_LISTEN",
  "POTHEAD_WORKER_LISTEN",
  "PROMETHEUS_PORT",
  "POTHEAD_WORKER_TOKEN",
];

/**
 * The values of {@linkcode HUB_ENV_VARS} (one `Deno.env.get` each, so that
 * `--allow-env` can name them).
 * @returns name → value, undefined when unset
 */
export function hubEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of HUB_ENV_VARS) env[name] = Deno.env.get(name);
  return env;
}

/**
 * Parses the hub's flags.
 *
 * @param args the command-line arguments
 * @param env the environment @default {hubEnv()}
 * @returns the settings
 * @throws {UsageError} naming the bad flag
 *
 * @example
 * ```ts
 * import { parseHubArgs } from "./hub_args.ts";
 * const a = parseHubArgs(["--main-port", "8000", "--queue-timeout", "5s"], {});
 * if (a.listen.port !== 8000 || a.queueTimeoutMs !== 5000) throw new Error();
 * ```
 */
export function parseHubArgs(
  args: string[],
  env: Record<string, string | undefined> = hubEnv(),
): HubArgs {
  let v;
  try {
    v = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        "listen": { type: "string" },
        "main-port": { type: "string" },
        "worker-listen": { type: "string" },
        "worker-port": { type: "string" },
        "legacy-worker-listen": { type: "string" },
        "allow-unauthenticated-legacy": { type: "boolean" },
        "metrics-listen": { type: "string" },
        "max-queue": { type: "string" },
        "queue-timeout": { type: "string" },
        "response-timeout": { type: "string" },
        "body-idle-timeout": { type: "string" },
        "drain-timeout": { type: "string" },
        "worker-token-file": { type: "string" },
        "config": { type: "string" },
        "enable-reload-endpoint": { type: "boolean" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "worker-tls-cert": { type: "string" },
        "worker-tls-key": { type: "string" },
        "worker-client-ca": { type: "string" },
        "max-body-size": { type: "string" },
        "log-format": { type: "string" },
        "help": { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    throw usageErrorFrom(err);
  }
  const port = (flag: string, value: string) =>
    parseFlag(flag, value, (t) => parseHostPort(`0.0.0.0:${t}`));
  const addr = (flag: string, value: string) =>
    parseFlag(flag, value, (t) => parseHostPort(t));

  const listen = v["main-port"] !== undefined
    ? port("--main-port", v["main-port"])
    : addr(
      v.listen !== undefined ? "--listen" : "POTHEAD_LISTEN",
      v.listen ?? env.POTHEAD_LISTEN ?? "0.0.0.0:8080",
    );
  const workerListen = v["worker-port"] !== undefined
    ? port("--worker-port", v["worker-port"])
    : addr(
      v["worker-listen"] !== undefined
        ? "--worker-listen"
        : "POTHEAD_WORKER_LISTEN",
      v["worker-listen"] ?? env.POTHEAD_WORKER_LISTEN ?? "0.0.0.0:4040",
    );
  let metricsListen: HostPort | null;
  if (v["metrics-listen"] === "off") metricsListen = null;
  else if (v["metrics-listen"] !== undefined) {
    metricsListen = addr("--metrics-listen", v["metrics-listen"]);
  } else if (env.PROMETHEUS_PORT !== undefined && env.PROMETHEUS_PORT !== "") {
    metricsListen = env.PROMETHEUS_PORT === "0"
      ? null
      : port("PROMETHEUS_PORT", env.PROMETHEUS_PORT);
  } else metricsListen = parseHostPort("0.0.0.0:9090");

  const logFormat = v["log-format"] ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(
      `--log-format: expected 'text' or 'json', got '${logFormat}'`,
    );
  }
  const pair = (a: string, b: string) => {
    if (
      (v[a as keyof typeof v] === undefined) !==
        (v[b as keyof typeof v] === undefined)
    ) {
      throw new UsageError(`--${a} and --${b} must be given together`);
    }
  };
  pair("tls-cert", "tls-key");
  pair("worker-tls-cert", "worker-tls-key");
  if (
    v["worker-client-ca"] !== undefined && v["worker-tls-cert"] === undefined
  ) {
    throw new UsageError(
      "--worker-client-ca needs --worker-tls-cert and --worker-tls-key (client certificates are checked during TLS)",
    );
  }
  const legacy = v["legacy-worker-listen"] !== undefined
    ? addr("--legacy-worker-listen", v["legacy-worker-listen"])
    : null;
  const duration = (flag: string, def: string) =>
    parseFlag(
      `--${flag}`,
      (v[flag as keyof typeof v] as string | undefined) ?? def,
      parseDuration,
    );

  return {
    listen,
    workerListen,
    legacyWorkerListen: legacy,
    allowUnauthenticatedLegacy: v["allow-unauthenticated-legacy"] ?? false,
    metricsListen,
    maxQueue: parseFlag(
      "--max-queue",
      v["max-queue"] ?? "1000",
      parsePositiveInt,
    ),
    queueTimeoutMs: duration("queue-timeout", "30s"),
    responseTimeoutMs: duration("response-timeout", "300s"),
    bodyIdleTimeoutMs: duration("body-idle-timeout", "60s"),
    drainTimeoutMs: duration("drain-timeout", "30s"),
    workerTokenFile: v["worker-token-file"] ?? null,
    workerTokenEnv: env.POTHEAD_WORKER_TOKEN || null,
    config: v.config ?? null,
    enableReloadEndpoint: v["enable-reload-endpoint"] ?? false,
    tlsCert: v["tls-cert"] ?? null,
    tlsKey: v["tls-key"] ?? null,
    workerTlsCert: v["worker-tls-cert"] ?? null,
    workerTlsKey: v["worker-tls-key"] ?? null,
    workerClientCa: v["worker-client-ca"] ?? null,
    maxBodySize: v["max-body-size"] !== undefined
      ? parseFlag("--max-body-size", v["max-body-size"], parseSize)
      : Infinity,
    logFormat,
    help: v.help ?? false,
  };
}
