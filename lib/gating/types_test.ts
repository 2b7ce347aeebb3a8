import assert from "node:assert/strict";
import type { Gate, SlotTicket } from "./types.ts";

Deno.test("every SlotTicket method is optional, so an app may return {}", async () => {
  const gate: Gate = () => Promise.resolve({});
  const ticket: SlotTicket = await gate(new AbortController().signal);
  // What the worker does with a ticket; none of it may throw.
  ticket.requestReceived?.(new Request("http://x.test/"));
  ticket.resetReservation?.(0);
  ticket.done?.();
  assert.deepEqual(ticket, {});
});
