/**
 * Combining gates: a job is admitted when every gate has admitted it.
 *
 * @module
 */

import type { Gate, SlotTicket } from "./types.ts";

/**
 * A gate that asks each of `gates` in turn and admits when all have.
 *
 * Gates are asked one after the other, not at once, so a job holds at most
 * one gate's waiting place and the tickets it holds are for a job that is
 * about to run; put cheap counting gates first and the CPU gate last, so its
 * ramp and reservation start when the pull really starts. If a gate rejects
 * (aborted or failed), the tickets already got are done and the error is
 * passed on. The combined ticket forwards `requestReceived`, `done` (once)
 * and `resetReservation` to every ticket that has them.
 *
 * @param gates the gates, asked in this order
 * @returns the combined gate (with no gates: admits at once)
 *
 * @example CPU, memory and a cap together
 * ```ts
 * import { allOf } from "./all_of.ts";
 * import { maxConcurrent } from "./max_concurrent.ts";
 * import { waitForMemory } from "./memory.ts";
 * import { waitForIdleCpu } from "./idle_cpu.ts";
 * const gate = allOf(maxConcurrent(4), waitForMemory(512 * 1024 ** 2), waitForIdleCpu(1));
 * const ticket = await gate(new AbortController().signal);
 * ticket.done?.();
 * ```
 */
export function allOf(...gates: Gate[]): Gate {
  return async (signal: AbortSignal): Promise<SlotTicket> => {
    const tickets: SlotTicket[] = [];
    try {
      signal.throwIfAborted();
      for (const gate of gates) {
        tickets.push(await gate(signal));
        signal.throwIfAborted();
      }
    } catch (error) {
      for (const ticket of tickets.reverse()) ticket.done?.();
      throw error;
    }
    let finished = false;
    return {
      requestReceived(req: Request) {
        if (finished) return;
        for (const ticket of tickets) ticket.requestReceived?.(req);
      },
      done() {
        if (finished) return;
        finished = true;
        for (const ticket of tickets) ticket.done?.();
      },
      resetReservation(cpus: number) {
        if (finished) return;
        for (const ticket of tickets) ticket.resetReservation?.(cpus);
      },
    };
  };
}
