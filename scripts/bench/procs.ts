/**
 * Child processes of the benchmark: every one started here is tracked and
 * killed on the way out (normal end, error, Ctrl-C). Children run through
 * `sh -c 'ulimit -n …; exec "$@"'`, so the pid we hold is the program's own
 * (for /proc/<pid>/status) and the file-descriptor limit is raised.
 *
 * @module
 */

/** A started child. */
export interface Proc {
  name: string;
  pid: number;
  child: Deno.ChildProcess;
  logFile: string;
  /** Resolves with the exit status. */
  status: Promise<Deno.CommandStatus>;
  exited: boolean;
}

const live = new Set<Proc>();
let logDir = "bench-results/logs";
let seq = 0;

/** Where child logs go. */
export function setLogDir(dir: string): void {
  logDir = dir;
  try {
    Deno.removeSync(dir, { recursive: true }); // this run's logs only
  } catch { /* none yet */ }
  Deno.mkdirSync(dir, { recursive: true });
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Options for {@linkcode spawn}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  nofile?: number;
  /** Capture stdout into a string (for JSON-reporting helper processes). */
  stdout?: "log" | "piped";
}

/** Starts a program, logging stdout/stderr to a file. */
export function spawn(
  name: string,
  cmd: string[],
  opts: SpawnOptions = {},
): Proc {
  Deno.mkdirSync(logDir, { recursive: true });
  const logFile = `${logDir}/${String(++seq).padStart(3, "0")}-${
    name.replace(/[^\w.-]+/g, "_")
  }.log`;
  const nofile = opts.nofile ?? 65536;
  const out = opts.stdout === "piped" ? "" : ` >>${shq(logFile)}`;
  const script =
    `ulimit -n ${nofile} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$@"${out} 2>>${
      shq(logFile)
    }`;
  const child = new Deno.Command("sh", {
    args: ["-c", script, "sh", ...cmd],
    env: opts.env,
    stdin: "null",
    stdout: opts.stdout === "piped" ? "piped" : "null",
    stderr: "null",
  }).spawn();
  const p: Proc = {
    name,
    pid: child.pid,
    child,
    logFile,
    status: child.status,
    exited: false,
  };
  child.status.finally(() => (p.exited = true));
  live.add(p);
  return p;
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. Waits for it. */
export async function stop(p: Proc, graceMs = 3000): Promise<void> {
  if (!live.has(p)) return;
  const done = p.status.then(() => true, () => true);
  try {
    p.child.kill("SIGTERM");
  } catch { /* gone */ }
  let id: ReturnType<typeof setTimeout> | undefined;
  const timer = new Promise<boolean>((
    r,
  ) => (id = setTimeout(() => r(false), graceMs)));
  const ok = await Promise.race([done, timer]);
  clearTimeout(id);
  if (!ok) {
    try {
      p.child.kill("SIGKILL");
    } catch { /* gone */ }
    await done;
  }
  live.delete(p);
}

/** Stops every tracked child (in parallel). */
export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...live].map((p) => stop(p, graceMs)));
}

/** Synchronous last resort (used from an exit path): SIGKILL everything. */
export function killAllNow(): void {
  for (const p of live) {
    try {
      p.child.kill("SIGKILL");
    } catch { /* gone */ }
  }
  live.clear();
}

/** Reads a field of /proc/<pid>/status in KiB (VmRSS, VmHWM), or NaN. */
export function procStatusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(s);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds a process has used in user and in system (kernel) mode. */
export function procCpuUserSys(
  pid: number | "self",
): { user: number; sys: number } {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 };
  } catch {
    return { user: NaN, sys: NaN };
  }
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export function procCpuSeconds(pid: number | "self"): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (USER_HZ=100)
  } catch {
    return NaN;
  }
}

/** Samples VmRSS every `everyMs` until stopped; returns the peak KiB. */
export function sampleRss(pid: number, everyMs = 50): { stop(): number } {
  let peak = procStatusKiB(pid, "VmRSS") || 0;
  const id = setInterval(() => {
    const v = procStatusKiB(pid, "VmRSS");
    if (v > peak) peak = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(id);
      const v = procStatusKiB(pid, "VmRSS");
      return Math.max(peak, isNaN(v) ? 0 : v);
    },
  };
}

/** A free TCP port on 127.0.0.1 (closed again at once). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until a TCP connect to host:port succeeds, or throws after timeoutMs. */
export async function waitForPort(
  port: number,
  timeoutMs = 15_000,
  p?: Proc,
): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (p?.exited) throw new Error(`${p.name} exited early; see ${p.logFile}`);
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch { /* not yet */ }
    await sleep(50);
  }
  throw new Error(
    `port ${port} not open after ${timeoutMs} ms${
      p ? `; see ${p.logFile}` : ""
    }`,
  );
}

/** Tail of a log file, for error messages. */
export function logTail(p: Proc, lines = 15): string {
  try {
    return Deno.readTextFileSync(p.logFile).trimEnd().split("\n").slice(-lines)
      .join("\n");
  } catch {
    return "";
  }
}

/** Calls `onLine` for each JSON line a child (spawned with stdout "piped") prints. */
export async function readJsonLines(
  p: Proc,
  onLine: (o: Record<string, unknown>) => void,
): Promise<void> {
  const stdout = p.child.stdout;
  if (!stdout) return;
  let rest = "";
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  for (let g = 0; g < 1e9; g++) {
    const r = await reader.read();
    if (r.done) break;
    rest += r.value;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (!line.startsWith("{")) continue;
      try {
        onLine(JSON.parse(line));
      } catch { /* not JSON */ }
    }
  }
}
