/**
 * A hub started inside the test process (`serveHub`), with JSON log lines
 * kept in memory and short timeouts, for tests that drive the worker channel
 * byte by byte.
 *
 * @module
 */

import { parseConfig } from "../lib/config/config.ts";
import { Logger } from "../lib/log/logger.ts";
import {
  type HubHandle,
  type HubOptions,
  serveHub,
} from "../lib/hub/serve_hub.ts";
import { metricValue } from "./metrics_text.ts";

/** A running in-process hub. */
export interface InprocHub extends AsyncDisposable {
  /** The handle. */
  hub: HubHandle;
  /** `http://127.0.0.1:<port>` of the consumer port. */
  url: string;
  /** `127.0.0.1:<port>` of the worker port. */
  workerAddr: string;
  /** `http://127.0.0.1:<port>` of the metrics port. */
  metricsUrl: string;
  /** Parsed log lines so far. */
  logs: Record<string, unknown>[];
  /** Reads one series from `/metrics`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/**
 * Starts a hub with pools `default` and `hostile` (routed by the path prefix
 * `/hostile/`), on free loopback ports.
 * @param options overrides (timeouts, limits)
 * @param pools pool timeouts @default {{ responseTimeoutMs: 2000, queueTimeoutMs: 5000 }}
 * @returns the hub
 */
export async function startInprocHub(
  options: HubOptions = {},
  pools: { responseTimeoutMs?: number; queueTimeoutMs?: number } = {},
): Promise<InprocHub> {
  const logs: Record<string, unknown>[] = [];
  const config = parseConfig(
    `{
      "pools": { "default": {}, "hostile": {} },
      "routes": [{ "path": "/hostile/", "pool": "hostile" }],
      "defaultPool": "default"
    }`,
    {
      maxQueue: 100,
      queueTimeoutMs: pools.queueTimeoutMs ?? 5000,
      responseTimeoutMs: pools.responseTimeoutMs ?? 2000,
    },
  );
  const hub = await serveHub({
    listen: { hostname: "127.0.0.1", port: 0 },
    workerListen: { hostname: "127.0.0.1", port: 0 },
    metricsListen: { hostname: "127.0.0.1", port: 0 },
    config,
    drainTimeoutMs: 2000,
    logger: new Logger({
      format: "json",
      sink: (line) => {
        logs.push(JSON.parse(line));
        if (Deno.env.get("POTHEAD_TEST_VERBOSE")) {
          console.error(`[hub] ${line}`);
        }
      },
    }),
    ...options,
  });
  const metricsUrl = `http://127.0.0.1:${hub.addr.metrics!.port}`;
  return {
    hub,
    url: `http://127.0.0.1:${hub.addr.consumer.port}`,
    workerAddr: `127.0.0.1:${hub.addr.worker.port}`,
    metricsUrl,
    logs,
    async metric(name, labels = {}) {
      const res = await fetch(`${metricsUrl}/metrics`);
      return metricValue(await res.text(), name, labels);
    },
    [Symbol.asyncDispose]: () => hub.shutdown(),
  };
}
