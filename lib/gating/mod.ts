/**
 * Ready-made gates for `--poll-jobs` workers: an app's `waitForSlot` can be
 * one of these, or several joined with {@linkcode allOf}.
 *
 * @example An app that pulls a job while one CPU and 512 MiB are free
 * ```ts
 * import { allOf, waitForIdleCpu, waitForMemory } from "./mod.ts";
 * const app = {
 *   fetch: (_req: Request) => new Response("done"),
 *   waitForSlot: allOf(waitForMemory(512 * 1024 ** 2), waitForIdleCpu(1)),
 * };
 * const ticket = await app.waitForSlot(new AbortController().signal);
 * ticket.done?.();
 * ```
 *
 * @module
 */

export type { Gate, SlotTicket } from "./types.ts";
export type { Clock, TimerHandle } from "../clock.ts";
export type {
  CpuQuota,
  CpuTimes,
  Probes,
  ReadTextFile,
  SystemProbesOptions,
} from "./probes.ts";
export { systemProbes } from "./probes.ts";
export type { IdleCpuOptions } from "./idle_cpu.ts";
export { waitForIdleCpu } from "./idle_cpu.ts";
export type { MemoryOptions } from "./memory.ts";
export { waitForMemory } from "./memory.ts";
export type { LoadOptions } from "./load.ts";
export { waitForLoad } from "./load.ts";
export { allOf } from "./all_of.ts";
export { maxConcurrent } from "./max_concurrent.ts";
export type { FakeProbesOptions } from "./fake_probes.ts";
export { FakeProbes } from "./fake_probes.ts";
