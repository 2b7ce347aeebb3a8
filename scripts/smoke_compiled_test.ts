/**
 * The release smoke test (`scripts/smoke_compiled.ts`) run here against
 * stand-ins for the compiled binaries: shell scripts that start the entries
 * with exactly the flags `deno compile` bakes in. That proves the checks
 * pass for binaries that behave as the apps, and that a build made with
 * `DENORT_BIN` pointing at `deno` (which runs as the Deno CLI) is refused.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  HUB_PERMISSIONS,
  RUNTIME_FLAGS,
  WORKER_PERMISSIONS,
} from "./compile.ts";
import { smoke } from "./smoke_compiled.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function standIn(
  dir: string,
  name: string,
  script: string,
): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, `#!/bin/sh\nexec ${script}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

function denoRun(entry: string, flags: readonly string[]): string {
  return [
    `'${Deno.execPath()}'`,
    "run",
    "--quiet",
    ...flags.map((f) => `'${f}'`),
    `'${join(ROOT, entry)}'`,
    '"$@"',
  ].join(" ");
}

Deno.test({
  name: "the smoke test passes for binaries that behave as the apps",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const hub = await standIn(
        dir,
        "pothead-hub",
        denoRun("hub.ts", [...RUNTIME_FLAGS, ...HUB_PERMISSIONS]),
      );
      const worker = await standIn(
        dir,
        "pothead-worker",
        denoRun("worker.ts", [...RUNTIME_FLAGS, ...WORKER_PERMISSIONS]),
      );
      const said: string[] = [];
      await smoke(hub, worker, (l) => said.push(l));
      assert.ok(said.includes("ok pothead-hub --max-queue lots: exit 2"));
      assert.ok(said.includes("ok hub drained: exit 0"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the smoke test refuses binaries that run as the Deno CLI (DENORT_BIN=deno)",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const cli = `'${Deno.execPath()}' "$@"`;
      const hub = await standIn(dir, "pothead-hub", cli);
      const worker = await standIn(dir, "pothead-worker", cli);
      await assert.rejects(
        () => smoke(hub, worker, () => {}),
        (err: Error & { code?: number }) =>
          /runs as the Deno CLI/.test(err.message) && err.code === 3,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
