/**
 * Test helpers that start real hub and worker processes on free loopback
 * ports and stop them, always, even when a test fails.
 *
 * @module
 */

import { TextLineStream } from "./text_lines.ts";

const ROOT = new URL("../", import.meta.url);

/** A started process with its log lines. */
export interface Proc extends AsyncDisposable {
  /** The child. */
  child: Deno.ChildProcess;
  /** Every stderr line so far (JSON log lines parse as objects). */
  lines: string[];
  /** Resolves with the first log line matching `pred` (bounded by `timeoutMs`). */
  waitFor(
    pred: (line: LogLine) => boolean,
    timeoutMs?: number,
  ): Promise<LogLine>;
  /** Sends a signal. */
  kill(signal?: Deno.Signal): void;
  /** Resolves with the exit status. */
  status: Promise<Deno.CommandStatus>;
  /** SIGKILL if still running, then wait. */
  stop(): Promise<void>;
}

/** A parsed JSON log line (`--log-format json`). */
export type LogLine = Record<string, unknown> & { msg?: string };

/**
 * Spawns `deno run -A <script> ...args` with piped stderr.
 * @param script path relative to the repository root
 * @param args its arguments
 * @param env extra environment
 * @param flags runtime flags instead of `-A` (a compiled binary's exact permissions) @default {["-A"]}
 * @returns the process
 */
export function spawnDeno(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  flags: readonly string[] = ["-A"],
): Proc {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...flags,
      "--quiet",
      new URL(script, ROOT).pathname,
      ...args,
    ],
    cwd: new URL(".", ROOT).pathname,
    env: { PROMETHEUS_PORT: "0", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: {
    pred: (l: LogLine) => boolean;
    resolve: (l: LogLine) => void;
  }[] = [];
  const parse = (line: string): LogLine => {
    try {
      const v = JSON.parse(line);
      return typeof v === "object" && v !== null ? v : { raw: line };
    } catch {
      return { raw: line };
    }
  };
  const pump = (async () => {
    const stream = child.stderr.pipeThrough(new TextDecoderStream())
      .pipeThrough(
        new TextLineStream(),
      );
    for await (const line of stream) {
      lines.push(line);
      if (Deno.env.get("POTHEAD_TEST_VERBOSE")) {
        console.error(`[${script}] ${line}`);
      }
      const parsed = parse(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].pred(parsed)) {
          waiters[i].resolve(parsed);
          waiters.splice(i, 1);
        }
      }
    }
  })();
  const status = child.status.then(async (s) => {
    await pump.catch(() => {});
    return s;
  });
  let exited = false;
  status.then(() => exited = true);
  const proc: Proc = {
    child,
    lines,
    status,
    waitFor(pred, timeoutMs = 20_000) {
      for (const l of lines) {
        const parsed = parse(l);
        if (pred(parsed)) return Promise.resolve(parsed);
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          reject(
            new Error(
              `${script}: no matching log line within ${timeoutMs} ms; last lines:\n${
                lines.slice(-10).join("\n")
              }`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
        status.then(() => {
          clearTimeout(t);
          reject(
            new Error(
              `${script} exited; last lines:\n${lines.slice(-10).join("\n")}`,
            ),
          );
        });
      });
    },
    kill(signal = "SIGTERM") {
      if (!exited) {
        try {
          child.kill(signal);
        } catch { /* gone */ }
      }
    },
    async stop() {
      proc.kill("SIGKILL");
      await status;
    },
    [Symbol.asyncDispose]() {
      return proc.stop();
    },
  };
  return proc;
}

/** A hub process on free loopback ports. */
export interface HubProc extends Proc {
  /** `http://127.0.0.1:<port>` of the consumer port. */
  url: string;
  /** `127.0.0.1:<port>` of the worker port. */
  workerAddr: string;
  /** `http://127.0.0.1:<port>` of the metrics port. */
  metricsUrl: string;
}

/**
 * Starts a hub (JSON logs, free ports) and waits until it listens.
 * @param args extra hub flags
 * @param env extra environment
 * @param flags runtime flags instead of `-A` @default {["-A"]}
 * @returns the hub
 */
export async function startHub(
  args: string[] = [],
  env: Record<string, string> = {},
  flags: readonly string[] = ["-A"],
): Promise<HubProc> {
  const has = (flag: string) => args.includes(flag);
  const proc = spawnDeno(
    "hub.ts",
    [
      "--log-format",
      "json",
      ...(has("--listen") ? [] : ["--listen", "127.0.0.1:0"]),
      ...(has("--worker-listen") ? [] : ["--worker-listen", "127.0.0.1:0"]),
      ...(has("--metrics-listen") ? [] : ["--metrics-listen", "127.0.0.1:0"]),
      ...args,
    ],
    env,
    flags,
  );
  try {
    const line = await proc.waitFor((l) => l.msg === "hub listening");
    return Object.assign(proc, {
      url: `http://${line.consumer}`,
      workerAddr: String(line.worker),
      metricsUrl: `http://${line.metrics}`,
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/**
 * Starts a worker and waits until `slots` of its connections are up.
 * @param hubWorkerAddr the hub's worker address
 * @param args extra flags and the app
 * @param slots connections to wait for @default {1}
 * @param env extra environment
 * @param flags runtime flags instead of `-A` @default {["-A"]}
 * @returns the worker
 */
export async function startWorker(
  hubWorkerAddr: string,
  args: string[] = [],
  slots = 1,
  env: Record<string, string> = {},
  flags: readonly string[] = ["-A"],
): Promise<Proc> {
  const proc = spawnDeno(
    "worker.ts",
    [
      "--log-format",
      "json",
      "--connect",
      hubWorkerAddr,
      ...args,
    ],
    env,
    flags,
  );
  try {
    for (let i = 0; i < slots; i++) {
      const n = i;
      await proc.waitFor((l) =>
        l.msg === "worker connected" &&
        proc.lines.filter((x) => x.includes('"worker connected"')).length > n
      );
    }
    return proc;
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/**
 * Waits until `pred()` holds, checking every 20 ms, for at most `timeoutMs`.
 * @param pred the condition
 * @param what for the error message
 * @param timeoutMs the bound @default {10000}
 */
export async function until(
  pred: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
