/**
 * The hub's command-line program: flags to a running hub, signals to a
 * graceful drain (SIGTERM, SIGINT) or a configuration reload (SIGHUP), exit
 * codes (0 after a drain, 1 on a start-up failure, 2 on a bad command line).
 *
 * @module
 */

import { readFlagFile } from "../cli/read_flag_file.ts";
import { HUB_USAGE, parseHubArgs } from "../cli/hub_args.ts";
import { formatHostPort } from "../cli/address.ts";
import { UsageError } from "../cli/usage_error.ts";
import {
  ConfigError,
  defaultConfig,
  loadConfigFile,
} from "../config/config.ts";
import { Logger } from "../log/logger.ts";
import { serveHub } from "./serve_hub.ts";

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Runs the hub until SIGTERM or SIGINT has drained it.
 * @param args command-line arguments
 * @returns the exit code
 */
export async function hubMain(args: string[]): Promise<number> {
  let hub;
  let log = new Logger();
  try {
    const a = parseHubArgs(args);
    if (a.help) {
      console.log(HUB_USAGE);
      return 0;
    }
    log = new Logger({ format: a.logFormat });
    const token = a.workerTokenFile !== null
      ? (await readFlagFile("--worker-token-file", a.workerTokenFile)).trim()
      : a.workerTokenEnv;
    if (token === "") {
      throw new UsageError("--worker-token-file: the file is empty");
    }
    if (
      a.legacyWorkerListen && token !== null &&
      !LOOPBACK.test(a.legacyWorkerListen.hostname) &&
      !a.allowUnauthenticatedLegacy
    ) {
      throw new UsageError(
        `--legacy-worker-listen ${
          formatHostPort(a.legacyWorkerListen)
        }: the original protocol cannot authenticate workers, so while a worker token is set it opens only on loopback; give --allow-unauthenticated-legacy to open it anyway`,
      );
    }
    const defaults = {
      maxQueue: a.maxQueue,
      queueTimeoutMs: a.queueTimeoutMs,
      responseTimeoutMs: a.responseTimeoutMs,
    };
    let config;
    try {
      config = a.config !== null
        ? await loadConfigFile(a.config, defaults)
        : defaultConfig(defaults);
    } catch (err) {
      if (err instanceof ConfigError) {
        throw new UsageError(`--config: ${err.message}`);
      }
      throw err;
    }
    const tls = a.tlsCert && a.tlsKey
      ? {
        cert: await readFlagFile("--tls-cert", a.tlsCert),
        key: await readFlagFile("--tls-key", a.tlsKey),
      }
      : null;
    const workerTls = a.workerTlsCert && a.workerTlsKey
      ? {
        cert: await readFlagFile("--worker-tls-cert", a.workerTlsCert),
        key: await readFlagFile("--worker-tls-key", a.workerTlsKey),
      }
      : null;
    const workerClientCa = a.workerClientCa !== null
      ? await readFlagFile("--worker-client-ca", a.workerClientCa)
      : null;
    const configFile = a.config;
    hub = await serveHub({
      loadConfig: configFile !== null
        ? () => loadConfigFile(configFile, defaults)
        : null,
      reloadEndpoint: a.enableReloadEndpoint,
      listen: a.listen,
      workerListen: a.workerListen,
      legacyWorkerListen: a.legacyWorkerListen,
      metricsListen: a.metricsListen,
      config,
      drainTimeoutMs: a.drainTimeoutMs,
      bodyIdleTimeoutMs: a.bodyIdleTimeoutMs,
      maxBodySize: a.maxBodySize,
      workerToken: token,
      tls,
      workerTls,
      workerClientCa,
      logger: log,
    });
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`pothead-hub: ${err.message}`);
      console.error(HUB_USAGE);
      return 2;
    }
    log.error("hub failed to start", {
      reason: err instanceof Error ? err.message : String(err),
    });
    return 1;
  }
  const running = hub;
  const onSignal = (signal: string) => () => {
    log.info("signal received", { signal });
    running.shutdown();
  };
  const handlers = (["SIGTERM", "SIGINT"] as const).map((s) => {
    const h = onSignal(s);
    Deno.addSignalListener(s, h);
    return [s, h] as const;
  });
  // SIGHUP re-reads --config (issue 8); a bad file is logged and ignored.
  const onHangup = () => {
    log.info("signal received", { signal: "SIGHUP" });
    void running.reloadConfig();
  };
  let hangup = false;
  try {
    Deno.addSignalListener("SIGHUP", onHangup);
    hangup = true;
  } catch { /* no SIGHUP on this platform (Windows) */ }
  await running.finished;
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  if (hangup) Deno.removeSignalListener("SIGHUP", onHangup);
  return 0;
}
