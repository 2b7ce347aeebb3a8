/**
 * The soak test in its short form (issue 5, item 6): 20 seconds of mixed
 * load while workers are killed and restarted and the hub is restarted
 * once; nothing may be lost. The full run is `deno run -A scripts/soak.ts`
 * (10 minutes).
 */

import assert from "node:assert/strict";
import type { SoakReport } from "../scripts/soak.ts";

Deno.test("soak (short): workers killed, hub restarted, nothing lost", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      new URL("../scripts/soak.ts", import.meta.url).pathname,
      "--duration",
      "20s",
      "--kill-every",
      "3s",
      "--json",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  let report: SoakReport;
  try {
    report = JSON.parse(stdout);
  } catch {
    throw new Error(`no report; stderr:\n${stderr}\nstdout:\n${stdout}`);
  }
  const summary = JSON.stringify(report);
  assert.equal(report.lost, 0, summary);
  assert.deepEqual(report.violations, [], summary);
  assert.deepEqual(report.breaches, [], summary);
  assert.equal(report.logMismatches, 0, summary);
  assert.equal(report.hubRestarts, 1, summary);
  assert.ok(report.kills.sigkill + report.kills.sigterm >= 2, summary);
  assert.ok((report.answeredByStatus["200"] ?? 0) > report.sent / 2, summary);
  assert.ok(out.success, summary);
});
