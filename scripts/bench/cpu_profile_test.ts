import assert from "node:assert/strict";
import { type CpuProfile, summarizeProfile } from "./cpu_profile.ts";

const frame = (functionName: string) => ({
  functionName,
  url: "",
  lineNumber: 0,
  columnNumber: 0,
});

Deno.test("self and inclusive time from a hand-made profile", () => {
  // root → a → b ; root → (idle)
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 4] },
      {
        id: 2,
        callFrame: { ...frame("a"), url: "file:///app/a.ts" },
        children: [3],
      },
      { id: 3, callFrame: frame("b") },
      { id: 4, callFrame: frame("(idle)") },
    ],
    samples: [3, 3, 2, 4],
    // timeDeltas[i + 1] is sample i's duration (one extra entry for the last)
    timeDeltas: [0, 1000, 1000, 2000, 5000],
    startTime: 0,
    endTime: 9000,
  };
  const s = summarizeProfile(p);
  const fn = new Map(s.byFunction.map((h) => [h.name, h]));
  assert.equal(fn.get("b")!.selfMs, 2);
  const a = "a app/a.ts:1";
  assert.equal(fn.get(a)!.selfMs, 2);
  assert.equal(fn.get(a)!.totalMs, 4);
  // b is runtime code: its time is charged to a, the own code that called it
  const owner = new Map(s.byOwner.map((h) => [h.name, h.selfMs]));
  assert.equal(owner.get(a), 4);
  assert.equal(fn.get("(idle)")!.selfMs, 5);
  assert.equal(s.totalMs, 9);
});
