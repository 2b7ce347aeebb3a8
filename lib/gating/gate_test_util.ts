/**
 * Shared helpers of the gate tests: ask a gate without awaiting it, and let
 * promise callbacks run without touching a clock.
 *
 * @module
 */

import type { Gate, SlotTicket } from "./types.ts";

/**
 * Lets promise callbacks run; never touches a clock.
 * @param rounds microtask turns to yield @default {10}
 */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** The outcome of one {@linkcode ask}, filled in when it comes. */
export interface Pending {
  /** The ticket, once admitted. */
  ticket?: SlotTicket;
  /** The rejection, once refused or aborted. */
  error?: unknown;
}

/**
 * Whether the gate has admitted `p` (a function, so assertions do not
 * narrow `p.ticket`).
 * @param p the pending ask
 * @returns whether it was admitted
 */
export function admitted(p: Pending): boolean {
  return p.ticket !== undefined;
}

/**
 * Asks `gate` and records the outcome when it comes.
 * @param gate the gate
 * @param signal aborts the wait
 * @returns the pending outcome
 */
export function ask(
  gate: Gate,
  signal: AbortSignal = new AbortController().signal,
): Pending {
  const p: Pending = {};
  gate(signal).then((t) => p.ticket = t, (e) => p.error = e);
  return p;
}
