/**
 * `--redirect-response` end to end with real processes and `curl -L`
 * (issue 3): the hub answers 303 to the worker's redirect port, the body
 * comes from the worker, a key works once, and an unclaimed body is
 * cancelled at the TTL.
 */

import assert from "node:assert/strict";
import { patternBody } from "./fixtures/redirect_stream_app.ts";
import { type LogLine, type Proc, startHub, startWorker } from "./processes.ts";

const APP = "tests/fixtures/redirect_stream_app.ts";

/** Starts a redirecting worker; resolves with it and its redirect address. */
async function redirectWorker(
  hubWorkerAddr: string,
  extra: string[] = [],
): Promise<{ worker: Proc; port: number }> {
  const worker = await startWorker(hubWorkerAddr, [
    "--redirect-response",
    "--redirect-listen",
    "127.0.0.1:0",
    ...extra,
    APP,
  ]);
  const line = await worker.waitFor((l) => l.msg === "redirect listening");
  return { worker, port: Number(String(line.redirect).split(":").at(-1)) };
}

interface Curl {
  /** The heads of every response, in order. */
  heads: { status: number; headers: Map<string, string> }[];
  body: Uint8Array;
}

/** `curl -sS [-L] url`: every response head (`-D`) and the last body. */
async function curl(url: string, follow: boolean): Promise<Curl> {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        ...(follow ? ["-L"] : []),
        "-D",
        `${dir}/heads`,
        "-o",
        `${dir}/body`,
        url,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const heads = (await Deno.readTextFile(`${dir}/heads`)).split(
      /\r\n\r\n/,
    ).filter((h) => h.trim() !== "").map((h) => {
      const [statusLine, ...fields] = h.split("\r\n");
      const headers = new Map<string, string>();
      for (const f of fields) {
        const i = f.indexOf(":");
        headers.set(f.slice(0, i).toLowerCase(), f.slice(i + 1).trim());
      }
      return { status: Number(statusLine.split(" ")[1]), headers };
    });
    return { heads, body: await Deno.readFile(`${dir}/body`) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const jobLines = (proc: Proc): LogLine[] =>
  proc.lines.flatMap((l) => {
    try {
      const v = JSON.parse(l) as LogLine;
      return v.msg === "job" ? [v] : [];
    } catch {
      return [];
    }
  });

Deno.test("--redirect-response: curl -L gets the app's body from the worker's port, once", async () => {
  // The same app behind a second hub without redirects: the direct body.
  await using directHub = await startHub();
  await using _direct = await startWorker(directHub.workerAddr, [APP]);
  await using hub = await startHub();
  const { worker, port } = await redirectWorker(hub.workerAddr);
  await using _worker = worker;

  const path = "/file?seed=7&size=3000000";
  const direct = await curl(`${directHub.url}${path}`, false);
  assert.equal(direct.heads.length, 1);
  assert.equal(direct.heads[0].status, 200);

  const followed = await curl(`${hub.url}${path}`, true);
  assert.deepEqual(followed.heads.map((h) => h.status), [303, 200]);
  const location = new URL(followed.heads[0].headers.get("location")!);
  assert.equal(Number(location.port), port, "Location is the worker's port");
  assert.match(location.pathname, /^\/[A-Za-z0-9_-]{22}$/, "128-bit key");
  assert.equal(followed.heads[1].headers.get("x-app"), "redirect-stream");
  assert.equal(
    followed.heads[1].headers.get("content-type"),
    "application/octet-stream",
  );
  assert.deepEqual(followed.body, direct.body);
  assert.deepEqual(followed.body, patternBody(7, 3_000_000));

  // Single use.
  const again = await fetch(location);
  assert.equal(again.status, 404);
  await again.body?.cancel();
  const unknown = await fetch(new URL("/AAAAAAAAAAAAAAAAAAAAAA", location));
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();

  await worker.waitFor((l) => l.msg === "job" && l.redirect === "delivered");
  const [record] = jobLines(worker);
  assert.equal(record.status, 303);
  assert.equal(record.out, 3_000_000);

  // Not a 200: through the hub as usual.
  const notFound = await curl(`${hub.url}/x?status=404`, true);
  assert.deepEqual(notFound.heads.map((h) => h.status), [404]);
  assert.equal(
    new TextDecoder().decode(notFound.body),
    "status 404 from the app\n",
  );
});

Deno.test("--redirect-response: the slot stays busy until the body is claimed", async () => {
  await using hub = await startHub();
  const { worker } = await redirectWorker(hub.workerAddr);
  await using _worker = worker;

  const first = await fetch(`${hub.url}/a?seed=1&size=1000`, {
    redirect: "manual",
  });
  assert.equal(first.status, 303);
  await first.body?.cancel();
  // One slot, its body unclaimed: the next request must wait.
  let secondDone = false;
  const second = fetch(`${hub.url}/b?seed=2&size=1000`, { redirect: "manual" })
    .then((r) => {
      secondDone = true;
      return r;
    });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(secondDone, false, "served while the first body waited");
  const body = await fetch(first.headers.get("location")!);
  assert.deepEqual(
    new Uint8Array(await body.arrayBuffer()),
    patternBody(1, 1000),
  );
  const res = await second;
  assert.equal(res.status, 303);
  const b = await fetch(res.headers.get("location")!);
  assert.deepEqual(new Uint8Array(await b.arrayBuffer()), patternBody(2, 1000));
});

Deno.test("--redirect-response: an unclaimed body is cancelled at the TTL", async () => {
  await using hub = await startHub();
  const { worker } = await redirectWorker(hub.workerAddr, [
    "--redirect-ttl",
    "300ms",
  ]);
  await using _worker = worker;

  const res = await fetch(`${hub.url}/late?seed=9`, { redirect: "manual" });
  assert.equal(res.status, 303);
  await res.body?.cancel();
  await worker.waitFor((l) => l.msg === "app stream cancelled" && l.seed === 9);
  await worker.waitFor((l) => l.msg === "job" && l.redirect === "expired");
  const late = await fetch(res.headers.get("location")!);
  assert.equal(late.status, 404);
  await late.body?.cancel();

  // The slot is free again.
  const next = await curl(`${hub.url}/next?seed=3&size=5000`, true);
  assert.deepEqual(next.body, patternBody(3, 5000));
});
