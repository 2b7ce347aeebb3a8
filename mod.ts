/**
 * pothead: a load-balancing hub for expensive, non-concurrent HTTP requests.
 * Workers dial out to the hub and pull the next queued request only when
 * they have room.
 *
 * This module is the library face for app authors and embedders: the app
 * contract, the gates for `--poll-jobs`, and the functions that start a hub
 * or a worker in-process.
 *
 * @example An app that pulls a job only when a CPU is idle
 * ```ts
 * import { type PotheadApp, waitForIdleCpu } from "./mod.ts";
 * const gate = waitForIdleCpu(1);
 * export default ({
 *   fetch: () => new Response("done\n"),
 *   waitForSlot: (signal) => gate(signal),
 * } satisfies PotheadApp);
 * ```
 *
 * @module
 */

export type { FetchHandler, JobInfo, PotheadApp } from "./lib/worker/app.ts";
export { appFromModule, demoApp, loadApp } from "./lib/worker/app.ts";
export { runWorker } from "./lib/worker/run_worker.ts";
export type { WorkerHandle, WorkerOptions } from "./lib/worker/run_worker.ts";
export { RedirectStore, serveRedirects } from "./lib/worker/redirect.ts";
export type {
  RedirectServer,
  RedirectStoreOptions,
  ServeRedirectsOptions,
} from "./lib/worker/redirect.ts";
export { serveHub } from "./lib/hub/serve_hub.ts";
export type {
  HubAddresses,
  HubHandle,
  HubOptions,
  ListenAddress,
} from "./lib/hub/serve_hub.ts";
export { HubError, HubErrorCode } from "./lib/hub/errors.ts";
export type { ReloadOutcome, ReloadSummary } from "./lib/hub/reload.ts";
export {
  ConfigError,
  defaultConfig,
  loadConfigFile,
  parseConfig,
} from "./lib/config/config.ts";
export type {
  FairnessKeySource,
  HubConfig,
  PoolDefaults,
  PoolSettings,
  RouteSpec,
} from "./lib/config/config.ts";
export * from "./lib/gating/mod.ts";
export { Logger } from "./lib/log/logger.ts";
export type {
  LogFields,
  LogFormat,
  LoggerOptions,
  LogLevel,
  LogSink,
} from "./lib/log/logger.ts";
export type { HostPort } from "./lib/cli/address.ts";
export type { DialTls } from "./lib/worker/dial_hub.ts";
export type { HubAddress, Resolver } from "./lib/worker/hub_addresses.ts";
export type {
  Diversion,
  DiversionOutcome,
  Diverter,
} from "./lib/worker/serve_conn.ts";
export { WorkerMetrics } from "./lib/metrics/worker_metrics.ts";
