/**
 * The contract between a gate and the worker that asks it before each pull
 * (`--poll-jobs`, issue 3).
 *
 * @module
 */

/**
 * What a gate returns when it admits a job.
 *
 * @example Hand-made ticket
 * ```ts
 * import type { SlotTicket } from "./types.ts";
 * let running = 1;
 * const ticket: SlotTicket = {
 *   done() {
 *     running = 0;
 *   },
 * };
 * ticket.done?.();
 * if (running !== 0) throw new Error("not released");
 * ```
 */
export interface SlotTicket {
  /** Called when the pulled request arrives (before the app sees it). */
  requestReceived?(req: Request): void;
  /** Called once when the job ends, or when the pull failed. Must be idempotent. */
  done?(): void;
  /** Lower the CPUs reserved for this job (see waitForIdleCpu keepReservation). */
  resetReservation?(cpus: number): void;
}

/**
 * A gate: resolves when one more job may be pulled; rejects with the signal's reason when aborted.
 *
 * @example A gate that always admits
 * ```ts
 * import type { Gate } from "./types.ts";
 * const open: Gate = (signal) =>
 *   signal.aborted ? Promise.reject(signal.reason) : Promise.resolve({});
 * const ticket = await open(new AbortController().signal);
 * ticket.done?.();
 * ```
 */
export type Gate = (signal: AbortSignal) => Promise<SlotTicket>;
