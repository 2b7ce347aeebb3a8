import assert from "node:assert/strict";
import {
  childIndex,
  runProcesses,
  selfCommand,
  type SelfInfo,
  withoutProcessesFlag,
} from "./processes.ts";
import { Logger } from "../log/logger.ts";

const base: SelfInfo = {
  cmdline: null,
  execPath: "/usr/bin/deno",
  mainModule: "file:///srv/worker.ts",
  args: ["--processes", "2", "--workers", "3", "app.ts"],
  standalone: false,
  permissionFlags: ["--allow-net", "--allow-read"],
};
const childArgs = ["--workers", "3", "app.ts"];

Deno.test("withoutProcessesFlag: both spellings, only before --", () => {
  assert.deepEqual(
    withoutProcessesFlag(["--processes", "2", "a", "--processes=4", "b"]),
    ["a", "b"],
  );
  assert.deepEqual(
    withoutProcessesFlag(["x", "--", "--processes", "2"]),
    ["x", "--", "--processes", "2"],
  );
});

Deno.test("childIndex: only a number counts", () => {
  assert.equal(childIndex({ POTHEAD_PROCESS_INDEX: "0" }), 0);
  assert.equal(childIndex({ POTHEAD_PROCESS_INDEX: "x" }), null);
  assert.equal(childIndex({}), null);
});

Deno.test("selfCommand: Deno flags as given on Linux", () => {
  const c = selfCommand(childArgs, {
    ...base,
    cmdline: [
      "deno",
      "run",
      "--allow-net",
      "--v8-flags=--max-old-space-size=512",
      "worker.ts",
      ...base.args,
    ],
  });
  assert.deepEqual(c, {
    cmd: "/usr/bin/deno",
    args: [
      "run",
      "--allow-net",
      "--v8-flags=--max-old-space-size=512",
      "worker.ts",
      ...childArgs,
    ],
  });
});

Deno.test("selfCommand: a compiled binary runs itself", () => {
  const self = {
    ...base,
    execPath: "/usr/local/bin/pothead-worker",
    mainModule: "file:///tmp/deno-compile-pothead-worker/worker.ts",
    standalone: true,
  };
  const expected = { cmd: "/usr/local/bin/pothead-worker", args: childArgs };
  assert.deepEqual(
    selfCommand(childArgs, {
      ...self,
      cmdline: ["pothead-worker", ...base.args],
    }),
    expected,
  );
  assert.deepEqual(selfCommand(childArgs, self), expected);
});

Deno.test("selfCommand: elsewhere, deno run with the granted permissions", () => {
  assert.deepEqual(selfCommand(childArgs, base), {
    cmd: "/usr/bin/deno",
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "file:///srv/worker.ts",
      ...childArgs,
    ],
  });
  // A cmdline whose tail is not our args (embedded args) is not trusted.
  assert.deepEqual(
    selfCommand(childArgs, { ...base, cmdline: ["deno", "run", "x.ts"] }),
    selfCommand(childArgs, base),
  );
});

/** A script that says hello on the control socket, then lives or dies. */
const CHILD = `
import { ParentLink } from "${new URL("./grant_ipc.ts", import.meta.url).href}";
const index = Number(Deno.env.get("POTHEAD_PROCESS_INDEX"));
const link = await ParentLink.connect(Deno.env.get("POTHEAD_CONTROL_SOCKET")!);
if (Deno.env.get("PROMETHEUS_PORT") !== "0") Deno.exit(3);
const mode = Deno.args[0];
if (mode === "refuse") Deno.exit(2);
link.hello(index);
if (mode === "crash" && index === 0 && !Deno.env.get("X_NO_CRASH")) {
  await new Promise((r) => setTimeout(r, 50));
  Deno.exit(1);
}
const stop = () => link.close().then(() => Deno.exit(0));
Deno.addSignalListener("SIGTERM", stop);
await new Promise(() => {});
`;

async function withScript<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/child.ts`;
  await Deno.writeTextFile(path, CHILD);
  try {
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const quiet = () => {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    logger: new Logger({
      format: "json",
      sink: (l) => lines.push(JSON.parse(l)),
    }),
  };
};

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("runProcesses: restarts a child that dies; drains all with 0", async () => {
  await withScript(async (script) => {
    const { lines, logger } = quiet();
    const handle = await runProcesses({
      processes: 2,
      command: {
        cmd: Deno.execPath(),
        args: ["run", "-A", "--quiet", script, "crash"],
      },
      logger,
      restartBaseMs: 10,
    });
    try {
      await until(
        () => lines.some((l) => l.msg === "child exited; restarting"),
        "a restart",
      );
      await until(
        () => lines.filter((l) => l.msg === "child started").length >= 3,
        "the new child",
      );
    } finally {
      const code = await handle.shutdown();
      // The crashing child may be caught between lives or mid-crash; the
      // drain itself is what is checked below.
      assert.ok(code === 0 || code === 1);
    }
    assert.ok(handle.pids.every((p) => p === 0));
  });
});

Deno.test("runProcesses: SIGTERM drains every child; exit 0", async () => {
  await withScript(async (script) => {
    const { lines, logger } = quiet();
    const handle = await runProcesses({
      processes: 3,
      command: {
        cmd: Deno.execPath(),
        args: ["run", "-A", "--quiet", script, "live"],
      },
      logger,
    });
    await until(() => handle.pids.every((p) => p > 0), "three children");
    assert.equal(await handle.shutdown(), 0);
    assert.equal(lines.filter((l) => l.msg === "child exited").length, 3);
  });
});

Deno.test("runProcesses: a child that refuses its command line stops everything with 2", async () => {
  await withScript(async (script) => {
    const { logger } = quiet();
    const handle = await runProcesses({
      processes: 2,
      command: {
        cmd: Deno.execPath(),
        args: ["run", "-A", "--quiet", script, "refuse"],
      },
      logger,
    });
    assert.equal(await handle.finished, 2);
  });
});
