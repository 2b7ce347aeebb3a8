/**
 * Measures what idle worker connections cost the hub: starts a hub process,
 * opens N worker connections that complete the PTTH handshake and then wait
 * (answering the hub's `OPTIONS *` probes), and reads the hub's resident
 * memory before and after from `/proc/<pid>/status`.
 *
 *   deno run -A scripts/idle_connections.ts [--connections 10000] [--v8-flags F]
 *
 * Needs about N + 100 file descriptors in this process (`ulimit -n`).
 *
 * @module
 */

import { procMemory } from "./proc_memory.ts";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "10000" },
    "batch": { type: "string", default: "500" },
    // e.g. --v8-flags=--max-semi-space-size=4: a smaller young generation
    // keeps the garbage of thousands of handshakes from inflating RSS.
    "v8-flags": { type: "string", default: "" },
  },
});
const total = Number(values.connections);
const batch = Number(values.batch);
if (!(total > 0) || !(batch > 0)) {
  console.error("usage: idle_connections.ts [--connections N] [--batch B]");
  Deno.exit(2);
}

const root = new URL("../", import.meta.url).pathname;

const hub = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    "--quiet",
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
    "--max-queue",
    "100000",
  ],
  stdout: "null",
  stderr: "piped",
}).spawn();

const conns: Deno.Conn[] = [];
try {
  const lines = hub.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let workerPort = 0;
  const deadline = Date.now() + 20_000;
  while (!workerPort && Date.now() < deadline) {
    const { value, done } = await lines.read();
    if (done) throw new Error("the hub exited before listening");
    buf += value;
    const m = /"msg":"hub listening".*?"worker":"[^"]*:(\d+)"/.exec(buf);
    if (m) workerPort = Number(m[1]);
  }
  // Keep draining the hub's log so it never blocks on a full pipe.
  (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })();
  if (!workerPort) throw new Error("the hub did not say where it listens");

  await new Promise((r) => setTimeout(r, 500));
  const before = await procMemory(hub.pid);
  const handshake = (i: number) =>
    new TextEncoder().encode(
      `GET /.well-known/pothead/v1/ptth HTTP/1.1\r\nHost: hub\r\nUpgrade: ptth\r\nConnection: Upgrade\r\nPothead-Pool: default\r\nPothead-Worker: idle/${i}\r\n\r\n`,
    );
  const probeAnswer = new TextEncoder().encode(
    "HTTP/1.1 204 No Content\r\n\r\n",
  );
  const t0 = performance.now();
  for (let i = 0; i < total; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, total - i) }, async (_, j) => {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: workerPort,
        });
        await conn.write(handshake(i + j));
        const buf = new Uint8Array(256);
        const n = await conn.read(buf);
        const text = new TextDecoder().decode(buf.subarray(0, n ?? 0));
        if (!text.startsWith("HTTP/1.1 101")) {
          throw new Error(`handshake refused: ${text}`);
        }
        conns.push(conn);
        // Answer probes while idle; the hub sends nothing else.
        (async () => {
          const b = new Uint8Array(64);
          try {
            while ((await conn.read(b)) !== null) await conn.write(probeAnswer);
          } catch { /* closed */ }
        })();
      }),
    );
  }
  const connectMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 2000));
  const after = await procMemory(hub.pid);
  const perConn = (after.rss - before.rss) / total;
  console.log(
    `| connections | hub V8 flags | hub RSS before | hub RSS after | per connection | connect time |`,
  );
  console.log(`|---:|---|---:|---:|---:|---:|`);
  console.log(
    `| ${total} | ${values["v8-flags"] || "(default)"} | ${
      (before.rss / 1024 / 1024).toFixed(1)
    } MiB | ${(after.rss / 1024 / 1024).toFixed(1)} MiB | ${
      (perConn / 1024).toFixed(2)
    } KiB | ${(connectMs / 1000).toFixed(1)} s |`,
  );
} finally {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
  try {
    hub.kill("SIGKILL");
  } catch { /* gone */ }
  await hub.status;
}
