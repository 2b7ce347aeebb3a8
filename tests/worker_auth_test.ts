/**
 * Worker authentication (issue 5, item 1): the PTTH handshake carries
 * `Authorization: Bearer <token>`; a wrong or missing token gets 401 and a
 * close, is counted in `pothead_hub_worker_connections_total{result}`, and is
 * logged without the token. The legacy port, which cannot authenticate,
 * opens beyond loopback only when told to.
 */

import assert from "node:assert/strict";
import { scrape } from "./metrics_text.ts";
import { spawnDeno, startHub, startWorker, until } from "./processes.ts";

const APP = "tests/fixtures/recording_app.ts";
const TOKEN = "s3cret-hub-token-4b1d";
const WRONG = "wrong-token-77e2";

/** Sends a raw handshake and returns the hub's whole answer. */
async function rawHandshake(
  workerAddr: string,
  authorization: string | null,
): Promise<string> {
  const [hostname, port] = workerAddr.split(":");
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const head = [
    "GET /.well-known/pothead/v1/ptth HTTP/1.1",
    `Host: ${workerAddr}`,
    "Upgrade: ptth",
    "Connection: Upgrade",
    "Pothead-Pool: default",
    "Pothead-Worker: raw/1/0",
    ...(authorization !== null ? [`Authorization: ${authorization}`] : []),
    "",
    "",
  ].join("\r\n");
  await conn.write(new TextEncoder().encode(head));
  let text = "";
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), 5000);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
      // After a 101 the hub waits for the worker: the head is all there is.
      if (text.startsWith("HTTP/1.1 101") && text.includes("\r\n\r\n")) break;
    }
  } catch { /* closed by the timer */ }
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed */ }
  return text;
}

Deno.test("auth: a wrong or missing token gets 401, is counted, and never logged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tokenFile = `${dir}/token`;
    await Deno.writeTextFile(tokenFile, `${TOKEN}\n`);
    await using hub = await startHub(["--worker-token-file", tokenFile]);

    // The right token (from a file) joins and serves.
    await using good = await startWorker(hub.workerAddr, [
      "--token-file",
      tokenFile,
      APP,
    ]);
    const res = await fetch(`${hub.url}/authed`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).path, "/authed");

    // A worker with a wrong token (from the environment) is refused.
    await using bad = spawnDeno("worker.ts", [
      "--log-format",
      "json",
      "--connect",
      hub.workerAddr,
      APP,
    ], { POTHEAD_WORKER_TOKEN: WRONG });
    const refused = await bad.waitFor((l) => l.msg === "cannot connect to hub");
    assert.equal(refused.status, 401);

    // Raw handshakes: no token, a wrong one, another scheme, an empty bearer.
    for (
      const auth of [null, `Bearer ${WRONG}`, `Basic ${btoa(TOKEN)}`, "Bearer "]
    ) {
      const answer = await rawHandshake(hub.workerAddr, auth);
      assert.match(answer, /^HTTP\/1\.1 401 /, `${auth}: ${answer}`);
      assert.match(answer, /connection: close/i);
      assert.ok(!answer.includes(TOKEN), "the answer does not echo the token");
    }
    // The right token in a raw handshake is switched.
    const ok = await rawHandshake(hub.workerAddr, `Bearer ${TOKEN}`);
    assert.match(ok, /^HTTP\/1\.1 101 /);

    await until(
      async () =>
        await scrape(hub.metricsUrl, "pothead_hub_worker_connections_total", {
          result: "unauthorized",
        }) >= 5,
      "five refusals counted",
    );
    const refusals = hub.lines.filter((l) => l.includes('"worker refused"'));
    assert.ok(refusals.length >= 5);
    for (const line of [...hub.lines, ...good.lines, ...bad.lines]) {
      assert.ok(!line.includes(TOKEN), `token in a log line: ${line}`);
      assert.ok(!line.includes(WRONG), `wrong token in a log line: ${line}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auth: the legacy port stays on loopback while a token is set", async () => {
  const env = { POTHEAD_WORKER_TOKEN: TOKEN };
  // Beyond loopback: refused at start, with the reason and the way out.
  await using refused = spawnDeno("hub.ts", [
    "--listen",
    "127.0.0.1:0",
    "--worker-listen",
    "127.0.0.1:0",
    "--metrics-listen",
    "off",
    "--legacy-worker-listen",
    "0.0.0.0:0",
  ], env);
  const status = await refused.status;
  assert.equal(status.code, 2);
  const text = refused.lines.join("\n");
  assert.match(text, /--legacy-worker-listen/);
  assert.match(text, /cannot authenticate/);
  assert.match(text, /--allow-unauthenticated-legacy/);
  assert.ok(!text.includes(TOKEN));

  // On loopback, or with --allow-unauthenticated-legacy, it opens.
  for (
    const args of [
      ["--legacy-worker-listen", "127.0.0.1:0"],
      [
        "--legacy-worker-listen",
        "0.0.0.0:0",
        "--allow-unauthenticated-legacy",
      ],
    ]
  ) {
    await using hub = await startHub(args, env);
    const line = await hub.waitFor((l) => l.msg === "hub listening");
    assert.ok(line.legacy, `legacy port open with ${args.join(" ")}`);
  }
  // Without a token there is nothing to protect: it opens anywhere.
  await using open = await startHub(["--legacy-worker-listen", "0.0.0.0:0"]);
  assert.ok((await open.waitFor((l) => l.msg === "hub listening")).legacy);
});
