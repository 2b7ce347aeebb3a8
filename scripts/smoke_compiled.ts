/**
 * Smoke test of compiled binaries, for the release machine (issue 7):
 *
 * ```sh
 * deno task compile
 * deno run -A scripts/smoke_compiled.ts dist
 * ```
 *
 * It checks that the binaries are the apps and not the Deno CLI (a build
 * with `DENORT_BIN` pointing at `deno` runs as the CLI: exit 3), that bad
 * flags exit 2 with the flag named, and that a hub and a worker started from
 * the binaries serve a request end to end, expose metrics, and drain on
 * SIGTERM with exit 0. Every wait is bounded; every process is killed.
 *
 * Exit codes: 0 passed, 1 a check failed, 3 the binaries are not the apps.
 *
 * @module
 */

/** A failed check. */
class SmokeFailure extends Error {
  /**
   * Creates a failure.
   * @param message what failed
   * @param code the exit code @default {1}
   */
  constructor(message: string, readonly code = 1) {
    super(message);
  }
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[]): Promise<Ran> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", PROMETHEUS_PORT: "0" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const out = await child.output();
  clearTimeout(timer);
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
  };
}

/** A long-running binary with its JSON log lines. */
class Service {
  readonly lines: Record<string, unknown>[] = [];
  readonly #child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  #waiters: {
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];

  constructor(cmd: string, args: string[], env: Record<string, string>) {
    const child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.#child = child;
    const pump = (async () => {
      let buf = "";
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(line);
          } catch {
            parsed = { raw: line };
          }
          this.lines.push(parsed);
          this.#waiters = this.#waiters.filter((w) => {
            if (!w.pred(parsed)) return true;
            w.resolve(parsed);
            return false;
          });
        }
      }
    })();
    this.status = child.status.then(async (s) => {
      await pump.catch(() => {});
      return s;
    });
  }

  waitFor(
    what: string,
    pred: (l: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new SmokeFailure(
              `no '${what}' within 20 s; last lines:\n${this.tail()}`,
            ),
          ),
        20_000,
      );
      this.#waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      this.status.then(() => {
        clearTimeout(timer);
        reject(
          new SmokeFailure(
            `exited before '${what}'; last lines:\n${this.tail()}`,
          ),
        );
      });
    });
  }

  tail(): string {
    return this.lines.slice(-8).map((l) => JSON.stringify(l)).join("\n");
  }

  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch { /* exited */ }
  }

  async exitCode(): Promise<number> {
    const timer = setTimeout(() => this.kill("SIGKILL"), 30_000);
    const s = await this.status;
    clearTimeout(timer);
    return s.code;
  }
}

/**
 * Runs the checks.
 * @param hub path of `pothead-hub`
 * @param worker path of `pothead-worker`
 * @param say progress lines
 */
export async function smoke(
  hub: string,
  worker: string,
  say: (line: string) => void = console.log,
): Promise<void> {
  for (
    const [bin, name] of [[hub, "pothead-hub"], [worker, "pothead-worker"]]
  ) {
    const help = await run(bin, ["--help"]);
    if (!help.stdout.includes(`Usage: ${name}`)) {
      const cli = /deno/i.test(help.stdout + help.stderr);
      throw new SmokeFailure(
        cli
          ? `${bin} runs as the Deno CLI, not as ${name}: it was built with DENORT_BIN pointing at deno; build with the real denort`
          : `${bin} --help: no usage text (exit ${help.code})`,
        3,
      );
    }
    say(`ok ${name} --help`);
  }
  const bad = await run(hub, ["--max-queue", "lots"]);
  if (bad.code !== 2 || !bad.stderr.includes("pothead-hub: --max-queue")) {
    throw new SmokeFailure(
      `pothead-hub --max-queue lots: exit ${bad.code}, stderr: ${
        bad.stderr.slice(0, 300)
      }`,
    );
  }
  say("ok pothead-hub --max-queue lots: exit 2");
  const badWorker = await run(worker, ["--workers", "none"]);
  if (
    badWorker.code !== 2 ||
    !badWorker.stderr.includes("pothead-worker: --workers")
  ) {
    throw new SmokeFailure(
      `pothead-worker --workers none: exit ${badWorker.code}, stderr: ${
        badWorker.stderr.slice(0, 300)
      }`,
    );
  }
  say("ok pothead-worker --workers none: exit 2");

  const token = crypto.randomUUID();
  const h = new Service(hub, [
    "--listen",
    "127.0.0.1:0",
    "--worker-listen",
    "127.0.0.1:0",
    "--metrics-listen",
    "127.0.0.1:0",
    "--log-format",
    "json",
  ], { POTHEAD_WORKER_TOKEN: token });
  let w: Service | null = null;
  try {
    const listening = await h.waitFor(
      "hub listening",
      (l) => l.msg === "hub listening",
    );
    say(`ok hub listening ${listening.consumer}`);
    w = new Service(worker, [
      "--connect",
      String(listening.worker),
      "--log-format",
      "json",
    ], { POTHEAD_WORKER_TOKEN: token, PROMETHEUS_PORT: "0" });
    await w.waitFor("worker connected", (l) => l.msg === "worker connected");
    say("ok worker connected");
    const res = await fetch(`http://${listening.consumer}/smoke`, {
      signal: AbortSignal.timeout(20_000),
    });
    const body = await res.text();
    if (res.status !== 200) {
      throw new SmokeFailure(
        `GET /smoke through the hub: ${res.status} ${body}`,
      );
    }
    say(
      `ok request served: ${res.status} (${res.headers.get("pothead-worker")})`,
    );
    const metrics = await fetch(`http://${listening.metrics}/metrics`, {
      signal: AbortSignal.timeout(20_000),
    }).then((r) => r.text());
    if (!metrics.includes("pothead_hub_requests_total")) {
      throw new SmokeFailure("/metrics has no pothead_hub_requests_total");
    }
    say("ok /metrics");
    w.kill("SIGTERM");
    const wc = await w.exitCode();
    if (wc !== 0) {
      throw new SmokeFailure(`worker exit ${wc} after SIGTERM:\n${w.tail()}`);
    }
    say("ok worker drained: exit 0");
    h.kill("SIGTERM");
    const hc = await h.exitCode();
    if (hc !== 0) {
      throw new SmokeFailure(`hub exit ${hc} after SIGTERM:\n${h.tail()}`);
    }
    say("ok hub drained: exit 0");
  } finally {
    w?.kill("SIGKILL");
    h.kill("SIGKILL");
    await Promise.allSettled([h.status, w?.status]);
  }
}

/**
 * The command line: `smoke_compiled.ts [DIR]` (default `dist`), or
 * `--hub PATH --worker PATH`.
 * @param args arguments
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  let dir = "dist";
  let hub: string | null = null;
  let worker: string | null = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--hub") hub = args[++i];
    else if (args[i] === "--worker") worker = args[++i];
    else dir = args[i];
  }
  const exe = Deno.build.os === "windows" ? ".exe" : "";
  hub ??= `${dir}/pothead-hub${exe}`;
  worker ??= `${dir}/pothead-worker${exe}`;
  try {
    await smoke(hub, worker);
    console.log("smoke test passed");
    return 0;
  } catch (err) {
    console.error(
      `smoke test failed: ${err instanceof Error ? err.message : err}`,
    );
    return err instanceof SmokeFailure ? err.code : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
