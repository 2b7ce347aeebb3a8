/**
 * `--processes P` (issue 3): the worker runs P child processes, each with its
 * own slots, so an app that keeps the CPU busy in JavaScript (and so blocks
 * its event loop) uses P cores. A child that dies is restarted with backoff;
 * SIGTERM or SIGINT to the parent drains every child.
 *
 * Each child is this same program again (`Deno.execPath()` with the same
 * Deno flags and script, or the compiled binary itself), with the same
 * arguments minus `--processes`, and these variables:
 *
 * - `POTHEAD_PROCESS_INDEX`: its number, 0 … P-1 (also what makes it a child);
 * - `POTHEAD_CONTROL_SOCKET`: the parent's Unix socket (see `grant_ipc.ts`):
 *   with `--poll-jobs` the parent decides admission once for the host, and
 *   the child pulls only when granted;
 * - `PROMETHEUS_PORT=0`: the parent serves the metrics port. With
 *   `PROMETHEUS_MULTIPROC_DIR` the children write their series there for the
 *   parent to merge; see {@linkcode ProcessesOptions.metrics}.
 *
 * @module
 */

import { abortableSleep } from "./abortable_sleep.ts";
import type { Gate } from "../gating/types.ts";
import { Logger } from "../log/logger.ts";
import { Backoff } from "./backoff.ts";
import { GrantBroker } from "./grant_ipc.ts";

/** The environment variable that carries a child's number. */
export const PROCESS_INDEX_ENV = "POTHEAD_PROCESS_INDEX";
/** The environment variable that carries the parent's control socket. */
export const CONTROL_SOCKET_ENV = "POTHEAD_CONTROL_SOCKET";

/**
 * This process's number when it is a `--processes` child, else null.
 * @param env the environment @default {Deno.env.toObject()}
 * @returns the child's number, or null
 *
 * @example
 * ```ts
 * import { childIndex } from "./processes.ts";
 * if (childIndex({ POTHEAD_PROCESS_INDEX: "1" }) !== 1) throw new Error();
 * if (childIndex({}) !== null) throw new Error();
 * ```
 */
export function childIndex(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): number | null {
  const v = env[PROCESS_INDEX_ENV];
  if (v === undefined || !/^\d+$/.test(v)) return null;
  return Number(v);
}

/**
 * The arguments without `--processes N` / `--processes=N` (only before a
 * `--`).
 * @param args the command-line arguments
 * @returns the children's arguments
 *
 * @example
 * ```ts
 * import { withoutProcessesFlag } from "./processes.ts";
 * const a = withoutProcessesFlag(["--processes", "4", "--workers=2", "--processes=3", "app.ts"]);
 * if (a.join(" ") !== "--workers=2 app.ts") throw new Error(a.join(" "));
 * ```
 */
export function withoutProcessesFlag(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (a === "--processes") {
      i++;
      continue;
    }
    if (a.startsWith("--processes=")) continue;
    out.push(a);
  }
  return out;
}

/** A program and its arguments. */
export interface Command {
  /** The executable. */
  cmd: string;
  /** Its arguments. */
  args: string[];
}

/** What {@linkcode selfCommand} needs to know about this process. */
export interface SelfInfo {
  /** `/proc/self/cmdline` split at NUL, or null where there is none. */
  cmdline: string[] | null;
  /** `Deno.execPath()`. */
  execPath: string;
  /** `Deno.mainModule`. */
  mainModule: string;
  /** `Deno.args`. */
  args: string[];
  /** Whether this is a `deno compile`d binary. */
  standalone: boolean;
  /** Permission flags for the fallback (`--allow-…`). */
  permissionFlags: string[];
}

/**
 * Facts about the running process, for {@linkcode selfCommand}.
 * @returns them
 */
export function currentSelf(): SelfInfo {
  let cmdline: string[] | null = null;
  try {
    const raw = Deno.readTextFileSync("/proc/self/cmdline");
    cmdline = raw.split("\0");
    if (cmdline.at(-1) === "") cmdline.pop();
  } catch { /* not Linux, or no /proc */ }
  const permissionFlags: string[] = [];
  const names = [
    "read",
    "write",
    "net",
    "env",
    "run",
    "sys",
    "ffi",
    "import",
  ] as const;
  let all = true;
  for (const name of names) {
    try {
      if (Deno.permissions.querySync({ name }).state === "granted") {
        permissionFlags.push(`--allow-${name}`);
      } else all = false;
    } catch {
      all = false;
    }
  }
  return {
    cmdline,
    execPath: Deno.execPath(),
    mainModule: Deno.mainModule,
    args: Deno.args,
    standalone: Deno.build.standalone,
    permissionFlags: all ? ["--allow-all"] : permissionFlags,
  };
}

/**
 * How to start this program again with other arguments. On Linux, the Deno
 * flags are taken from `/proc/self/cmdline` as they were given (permissions,
 * `--config`, `--v8-flags`, …); a compiled binary is run as it is; elsewhere
 * `deno run` with the permissions granted as a whole and `Deno.mainModule`.
 * @param args the arguments for the new process
 * @param self facts about this process @default {currentSelf()}
 * @returns the command
 *
 * @example Under `deno run`
 * ```ts
 * import { selfCommand } from "./processes.ts";
 * const c = selfCommand(["app.ts"], {
 *   cmdline: ["deno", "run", "-A", "worker.ts", "--processes", "2", "app.ts"],
 *   execPath: "/usr/bin/deno",
 *   mainModule: "file:///w/worker.ts",
 *   args: ["--processes", "2", "app.ts"],
 *   standalone: false,
 *   permissionFlags: [],
 * });
 * if (c.args.join(" ") !== "run -A worker.ts app.ts") throw new Error();
 * ```
 */
export function selfCommand(
  args: string[],
  self: SelfInfo = currentSelf(),
): Command {
  const { cmdline } = self;
  if (cmdline && cmdline.length > self.args.length) {
    const tail = cmdline.slice(cmdline.length - self.args.length);
    if (tail.every((a, i) => a === self.args[i])) {
      const prefix = cmdline.slice(1, cmdline.length - self.args.length);
      return { cmd: self.execPath, args: [...prefix, ...args] };
    }
  }
  if (self.standalone) return { cmd: self.execPath, args };
  return {
    cmd: self.execPath,
    args: ["run", ...self.permissionFlags, self.mainModule, ...args],
  };
}

/**
 * Hooks for multiprocess metrics (`PROMETHEUS_MULTIPROC_DIR`). The
 * multiprocess series live in `lib/metrics/`; this module only calls them at
 * the right moments. Every hook is optional.
 */
export interface ProcessMetricsHooks {
  /** Before the first child starts (e.g. wipe the directory). */
  beforeStart?(): void | Promise<void>;
  /** A child exited (e.g. mark its files dead, keep its counters). */
  childExited?(pid: number, index: number): void | Promise<void>;
}

/** Options of {@linkcode runProcesses}. */
export interface ProcessesOptions {
  /** Children to run (P >= 1). */
  processes: number;
  /** How to start one child (without the child's environment). */
  command: Command;
  /**
   * The host's gate for `--poll-jobs`: children pull only when the parent
   * grants; null when they do not poll. @default {null}
   */
  gate?: Gate | null;
  /** Extra environment for every child. @default {{}} */
  env?: Record<string, string>;
  /** Logger. @default {new Logger()} */
  logger?: Logger;
  /** First restart delay bound, ms. @default {500} */
  restartBaseMs?: number;
  /** Largest restart delay, ms. @default {30000} */
  restartCapMs?: number;
  /** A child up this long is healthy: its backoff starts over. @default {10000} */
  healthyAfterMs?: number;
  /** Multiprocess metrics hooks. @default {{}} */
  metrics?: ProcessMetricsHooks;
}

/** Running children. */
export interface ProcessesHandle extends AsyncDisposable {
  /** The pids of the children running now, by index (0 when between lives). */
  readonly pids: readonly number[];
  /**
   * Resolves with the exit code once every child has exited after a
   * shutdown: 0 when all drained cleanly, 1 when one did not, 2 when a child
   * refused its command line before it ever started.
   */
  readonly finished: Promise<number>;
  /**
   * Drains: stops restarting, sends `signal` to every child, waits for them.
   * @param signal what to send @default {"SIGTERM"}
   */
  shutdown(signal?: Deno.Signal): Promise<number>;
}

/**
 * Starts P children and keeps them running.
 * @param options how many, how to start one, the host's gate
 * @returns the handle
 *
 * @example
 * ```ts ignore
 * import { runProcesses, selfCommand, withoutProcessesFlag } from "./processes.ts";
 * const children = await runProcesses({
 *   processes: 4,
 *   command: selfCommand(withoutProcessesFlag(Deno.args)),
 * });
 * Deno.addSignalListener("SIGTERM", () => children.shutdown());
 * Deno.exit(await children.finished);
 * ```
 */
export async function runProcesses(
  options: ProcessesOptions,
): Promise<ProcessesHandle> {
  const log = options.logger ?? new Logger();
  const count = options.processes;
  const stop = new AbortController();
  const dir = await Deno.makeTempDir({ prefix: "pothead-worker-" });
  const socketPath = `${dir}/control.sock`;
  const listener = Deno.listen({ transport: "unix", path: socketPath });
  const pids: number[] = Array(count).fill(0);
  const children: (Deno.ChildProcess | null)[] = Array(count).fill(null);
  const greeted = new Set<number>(); // pids that said hello
  const channels = new Set<Promise<void>>();
  let exitCode = 0;
  let fatal = false;
  let forwarded: Deno.Signal | null = null;

  const broker = new GrantBroker({
    gate: options.gate ?? null,
    onHello: (_index, pid) => greeted.add(pid),
  });
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // closed
      }
      const served = broker.serve(conn).finally(() => channels.delete(served));
      channels.add(served);
    }
  })();

  await options.metrics?.beforeStart?.();

  const sleep = (ms: number) => abortableSleep(ms, stop.signal);

  const keepRunning = async (index: number) => {
    const backoff = new Backoff({
      baseMs: options.restartBaseMs ?? 500,
      capMs: options.restartCapMs ?? 30_000,
    });
    while (!stop.signal.aborted) {
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command(options.command.cmd, {
          args: options.command.args,
          env: {
            ...options.env,
            PROMETHEUS_PORT: "0",
            [PROCESS_INDEX_ENV]: String(index),
            [CONTROL_SOCKET_ENV]: socketPath,
          },
          stdin: "null",
          stdout: "inherit",
          stderr: "inherit",
        }).spawn();
      } catch (err) {
        log.error("cannot start child", {
          index,
          reason: err instanceof Error ? err.message : String(err),
        });
        await sleep(backoff.next());
        continue;
      }
      const pid = child.pid;
      const started = performance.now();
      children[index] = child;
      pids[index] = pid;
      log.info("child started", { index, pid });
      const status = await child.status;
      children[index] = null;
      pids[index] = 0;
      const said = greeted.delete(pid);
      await options.metrics?.childExited?.(pid, index);
      const fields = {
        index,
        pid,
        code: status.code,
        signal: status.signal ?? undefined,
      };
      if (stop.signal.aborted) {
        // Killed by the very signal we forwarded: it had not installed its
        // handler yet, so it was still starting and held no job.
        const clean = status.success ||
          (status.signal !== null && status.signal === forwarded);
        if (!clean) exitCode = Math.max(exitCode, 1);
        log.info("child exited", fields);
        break;
      }
      if (status.code === 2 && !said) {
        // A command line the child refuses will be refused again: stop.
        log.error("child refused its command line; stopping", fields);
        fatal = true;
        exitCode = 2;
        shutdown();
        break;
      }
      if (performance.now() - started >= (options.healthyAfterMs ?? 10_000)) {
        backoff.reset();
      }
      const delay = backoff.next();
      log.warn("child exited; restarting", { ...fields, in_ms: delay });
      await sleep(delay);
    }
  };

  const running = Array.from({ length: count }, (_, i) => keepRunning(i));

  const finished = (async () => {
    await Promise.all(running);
    try {
      listener.close();
    } catch { /* closed */ }
    await accepting;
    await Promise.all(channels);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return exitCode;
  })();

  let stopping: Promise<number> | null = null;
  function shutdown(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    stopping ??= (async () => {
      if (!fatal) {
        log.info("draining children", {
          children: pids.filter(Boolean).length,
        });
      }
      stop.abort();
      forwarded = signal;
      for (const child of children) {
        try {
          child?.kill(signal);
        } catch { /* already gone */ }
      }
      return await finished;
    })();
    return stopping;
  }

  return {
    pids,
    finished,
    shutdown,
    [Symbol.asyncDispose]: async () => {
      await shutdown();
    },
  };
}
