import assert from "node:assert/strict";
import { targetsTable } from "./targets.ts";

Deno.test("targets: verdicts from figures", () => {
  const md = targetsTable({ idle: { rssKiB: 90 * 1024, count: 10_000 } });
  assert.match(
    md,
    /\| 10,000 idle worker connections under 100 MiB of hub RSS \| 90\.0 MiB \| met \|/,
  );
  const bad = targetsTable({ idle: { rssKiB: 120 * 1024, count: 10_000 } });
  assert.match(bad, /\*\*not met\*\*/);
  assert.equal(targetsTable({}), "");
});
