import assert from "node:assert/strict";
import * as gating from "./mod.ts";

Deno.test("mod.ts re-exports the gates and probes", () => {
  assert.deepEqual(Object.keys(gating).sort(), [
    "FakeProbes",
    "allOf",
    "maxConcurrent",
    "systemProbes",
    "waitForIdleCpu",
    "waitForLoad",
    "waitForMemory",
  ]);
});
