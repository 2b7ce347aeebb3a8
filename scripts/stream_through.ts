/**
 * Streams a large body through a hub in each direction with curl and
 * reports throughput and the hub's peak resident memory; then reads a large
 * response at 1 MB/s for a while to show that a slow consumer does not make
 * the hub buffer.
 *
 *   deno run -A scripts/stream_through.ts [--size 1GiB] [--slow-seconds 20]
 *
 * @module
 */

import { procMemory } from "./proc_memory.ts";
import { parseArgs } from "node:util";
import { parseSize } from "../lib/cli/units.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    size: { type: "string", default: "1GiB" },
    "slow-seconds": { type: "string", default: "20" },
    // e.g. --max-semi-space-size=4, passed to the hub's V8
    "v8-flags": { type: "string", default: "" },
    "skip-chunked": { type: "boolean", default: false },
  },
});
const size = parseSize(values.size!);
const slowSeconds = Number(values["slow-seconds"]);
const root = new URL("../", import.meta.url).pathname;

function spawn(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ...args],
    env: { PROMETHEUS_PORT: "0", ...env },
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function waitLine(
  child: Deno.ChildProcess,
  re: RegExp,
): Promise<RegExpExecArray> {
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    const m = re.exec(buf);
    if (m) {
      (async () => {
        while (!(await reader.read()).done) { /* discard */ }
      })();
      return m;
    }
  }
  throw new Error(`no line matching ${re}`);
}

async function curl(args: string[]): Promise<{ seconds: number; out: string }> {
  const t0 = performance.now();
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--fail", ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`curl ${args.join(" ")} failed`);
  return {
    seconds: (performance.now() - t0) / 1000,
    out: new TextDecoder().decode(out.stdout).trim(),
  };
}

const hub = spawn([
  ...(values["v8-flags"] ? [`--v8-flags=${values["v8-flags"]}`] : []),
  `${root}hub.ts`,
  "--log-format",
  "json",
  "--listen",
  "127.0.0.1:0",
  "--worker-listen",
  "127.0.0.1:0",
  "--metrics-listen",
  "off",
]);
const worker: Deno.ChildProcess[] = [];
try {
  const m = await waitLine(
    hub,
    /"consumer":"127\.0\.0\.1:(\d+)","worker":"127\.0\.0\.1:(\d+)"/,
  );
  const url = `http://127.0.0.1:${m[1]}`;
  const w = spawn([
    `${root}worker.ts`,
    "--log-format",
    "json",
    "--connect",
    `127.0.0.1:${m[2]}`,
    "--workers",
    "2",
    `${root}scripts/stream_app.ts`,
  ]);
  worker.push(w);
  await waitLine(w, /worker connected[\s\S]*worker connected/);
  const base = await procMemory(hub.pid);

  const down = await curl([
    "-o",
    "/dev/null",
    "-w",
    "%{size_download}",
    `${url}/bytes?n=${size}`,
  ]);
  if (Number(down.out) !== size) {
    throw new Error(`downloaded ${down.out} of ${size} bytes`);
  }
  const afterDown = await procMemory(hub.pid);

  // Uploads: one with Content-Length (curl reads a file), one chunked (curl
  // reads a pipe, so the length is unknown).
  const file = await Deno.makeTempFile();
  const upload = async (chunked: boolean) => {
    const cmd = chunked
      ? `head -c ${size} /dev/zero | curl -sS --fail -T - ${url}/sink`
      : `curl -sS --fail -T ${file} ${url}/sink`;
    const t0 = performance.now();
    const out = await new Deno.Command("sh", {
      args: ["-c", cmd],
      stdout: "piped",
    }).output();
    const seconds = (performance.now() - t0) / 1000;
    const got = Number(new TextDecoder().decode(out.stdout).trim());
    if (got !== size) {
      throw new Error(`the worker received ${got} of ${size} bytes`);
    }
    return { seconds, mem: await procMemory(hub.pid) };
  };
  let upCl, upChunked;
  try {
    const fh = await Deno.open(file, { write: true });
    const block = new Uint8Array(1024 * 1024);
    for (let left = size; left > 0; left -= block.length) {
      await fh.write(left >= block.length ? block : block.subarray(0, left));
    }
    fh.close();
    upCl = await upload(false);
    upChunked = values["skip-chunked"] ? null : await upload(true);
  } finally {
    await Deno.remove(file);
  }

  // A slow consumer: 1 MB/s for a while on a body far larger than that.
  const slow = new Deno.Command("curl", {
    args: [
      "-sS",
      "--limit-rate",
      "1M",
      "-o",
      "/dev/null",
      "--max-time",
      String(slowSeconds),
      `${url}/bytes?n=${size}`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const samples: number[] = [];
  for (let i = 0; i < slowSeconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    samples.push((await procMemory(hub.pid)).rss);
  }
  await slow.status;

  const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
  const rate = (s: number) => (size / 1e6 / s).toFixed(0);
  console.log(
    `| direction | bytes | seconds | MB/s | hub RSS after | hub peak RSS |`,
  );
  console.log(`|---|---:|---:|---:|---:|---:|`);
  console.log(
    `| download | ${size} | ${down.seconds.toFixed(1)} | ${
      rate(down.seconds)
    } | ${mib(afterDown.rss)} MiB | ${mib(afterDown.hwm)} MiB |`,
  );
  console.log(
    `| upload, Content-Length | ${size} | ${upCl.seconds.toFixed(1)} | ${
      rate(upCl.seconds)
    } | ${mib(upCl.mem.rss)} MiB | ${mib(upCl.mem.hwm)} MiB |`,
  );
  if (upChunked) {
    console.log(
      `| upload, chunked | ${size} | ${upChunked.seconds.toFixed(1)} | ${
        rate(upChunked.seconds)
      } | ${mib(upChunked.mem.rss)} MiB | ${mib(upChunked.mem.hwm)} MiB |`,
    );
  }
  console.log(`\nhub RSS at start: ${mib(base.rss)} MiB`);
  console.log(
    `slow consumer (1 MB/s for ${slowSeconds} s), hub RSS each second: ${
      samples.map(mib).join(", ")
    } MiB`,
  );
} finally {
  for (const c of [...worker, hub]) {
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
    await c.status;
  }
}
