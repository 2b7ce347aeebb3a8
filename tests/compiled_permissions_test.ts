/**
 * The permissions the binaries are compiled with (issue 7,
 * `scripts/compile.ts`) are enough and, for the hub, each one needed. The
 * hub and the worker run here with exactly those flags (and `--no-prompt`,
 * so a missing one fails instead of asking), under `deno run`: permission
 * flags mean the same there as in a compiled binary, which cannot be run on
 * a machine without internet access (see `scripts/compile_test.ts`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  HUB_PERMISSIONS,
  RUNTIME_FLAGS,
  WORKER_PERMISSIONS,
} from "../scripts/compile.ts";
import { makeTestPki } from "./certs.ts";
import { freePort, scrapeMetrics } from "./prom_text.ts";
import { spawnDeno, startHub, startWorker, until } from "./processes.ts";

const APP = "tests/fixtures/many_hubs_app.ts";
const HUB_FLAGS = [...RUNTIME_FLAGS, ...HUB_PERMISSIONS];
const WORKER_FLAGS = [...RUNTIME_FLAGS, ...WORKER_PERMISSIONS];

async function files() {
  const dir = await Deno.makeTempDir({ prefix: "pothead-perm-" });
  const config = join(dir, "hub.jsonc");
  await Deno.writeTextFile(
    config,
    `{ "pools": { "default": {} }, "defaultPool": "default" }`,
  );
  const token = join(dir, "token");
  await Deno.writeTextFile(token, "s3cret-token\n");
  return {
    dir,
    config,
    token,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function ok(
  url: string,
  init?: RequestInit & { client?: Deno.HttpClient },
): Promise<string> {
  const res = await fetch(url, {
    ...init,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${url}: ${res.status} ${text}`);
  return text;
}

Deno.test("the hub runs every feature with exactly its compiled permissions", async () => {
  await using f = await files();
  await using pki = await makeTestPki();
  const hub = await startHub(
    [
      "--config",
      f.config,
      "--worker-token-file",
      f.token,
      "--tls-cert",
      pki.serverCert,
      "--tls-key",
      pki.serverKey,
      "--worker-tls-cert",
      pki.serverCert,
      "--worker-tls-key",
      pki.serverKey,
      "--worker-client-ca",
      pki.caFile,
      "--legacy-worker-listen",
      "127.0.0.1:0",
    ],
    { POTHEAD_WORKER_LISTEN: "127.0.0.1:1", PROMETHEUS_PORT: "1" },
    HUB_FLAGS,
  );
  let exited = false;
  try {
    await using _worker = await startWorker(hub.workerAddr, [
      "--tls",
      "--ca-file",
      pki.caFile,
      "--cert",
      pki.clientCert,
      "--key",
      pki.clientKey,
      "--token-file",
      f.token,
      APP,
    ]);
    const client = Deno.createHttpClient({ caCerts: [pki.pem(pki.caFile)] });
    try {
      const https = hub.url.replace(/^http:/, "https:");
      assert.match(await ok(`${https}/x`, { client }), /^ok /);
    } finally {
      client.close();
    }
    assert.match(await ok(`${hub.metricsUrl}/metrics`), /pothead_hub_/);
    await ok(`${hub.metricsUrl}/healthz`);
    await ok(`${hub.metricsUrl}/readyz`);
    await ok(`${hub.metricsUrl}/`);

    // SIGHUP reads --config again.
    hub.kill("SIGHUP");
    await hub.waitFor((l) => l.msg === "config reloaded");

    hub.kill("SIGTERM");
    const status = await hub.status;
    exited = true;
    assert.equal(status.code, 0, hub.lines.slice(-5).join("\n"));
    const denied = hub.lines.filter((l) =>
      /NotCapable|Requires \w+ access/.test(l)
    );
    assert.deepEqual(denied, []);
  } finally {
    if (!exited) await hub.stop();
  }
});

Deno.test("each of the hub's permissions is needed", async (t) => {
  await using f = await files();
  const args = [
    "--log-format",
    "json",
    "--listen",
    "127.0.0.1:0",
    "--worker-listen",
    "127.0.0.1:0",
    "--metrics-listen",
    "off",
    "--config",
    f.config,
    "--worker-token-file",
    f.token,
  ];
  const expected: Record<string, RegExp> = {
    "--allow-net": /net access/,
    "--allow-read": /cannot read .*Requires read access/,
    "--allow-env": /env access/,
  };
  for (const flag of HUB_PERMISSIONS) {
    const kind = flag.replace(/=.*/, "");
    await t.step(`without ${kind}`, async () => {
      const proc = spawnDeno(
        "hub.ts",
        args,
        {},
        [...RUNTIME_FLAGS, ...HUB_PERMISSIONS.filter((x) => x !== flag)],
      );
      try {
        const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
        const status = await proc.status;
        clearTimeout(timer);
        assert.notEqual(status.code, 0, `the hub ran without ${kind}`);
        assert.match(proc.lines.join("\n"), expected[kind]);
      } finally {
        await proc.stop();
      }
    });
  }
});

Deno.test("why the worker is compiled with --allow-all: Deno reads /proc and cgroup files only with it", async () => {
  // The CPU gate reads /proc/stat, and container limits come from
  // /sys/fs/cgroup. When a Deno release lets --allow-read reach them, this
  // test fails: narrow WORKER_PERMISSIONS then (scripts/compile.ts).
  const probe = `import { systemProbes } from "${
    new URL("../lib/gating/probes.ts", import.meta.url).href
  }";
    console.log(JSON.stringify({ cpu: systemProbes().cpuTimes() !== undefined }));`;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, probe);
  const run = async (flags: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...flags, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout)).cpu as boolean;
  };
  let procStat = true;
  try {
    await Deno.stat("/proc/stat");
  } catch {
    procStat = false; // not Linux: nothing to show
  }
  try {
    if (!procStat) return;
    assert.equal(await run(["-A"]), true, "-A reads /proc/stat");
    assert.equal(
      await run(["--no-prompt", "--allow-read", "--allow-sys"]),
      false,
      "--allow-read now reaches /proc/stat: narrow WORKER_PERMISSIONS",
    );
    assert.deepEqual([...WORKER_PERMISSIONS], ["--allow-all"]);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("the worker serves jobs with its compiled permissions: slots, multiprocess metrics, gates, child processes", async (t) => {
  await using f = await files();
  await using hub = await startHub(["--worker-token-file", f.token]);
  const common = ["--token-file", f.token];

  await t.step(
    "--workers 2, PROMETHEUS_PORT and PROMETHEUS_MULTIPROC_DIR",
    async () => {
      const multiproc = join(f.dir, "metrics");
      await Deno.mkdir(multiproc);
      const port = freePort();
      await using w = await startWorker(
        hub.workerAddr,
        [...common, "--workers", "2", APP],
        2,
        { PROMETHEUS_PORT: String(port), PROMETHEUS_MULTIPROC_DIR: multiproc },
        WORKER_FLAGS,
      );
      assert.match(await ok(`${hub.url}/a`), /^ok /);
      await until(async () => {
        const m = await scrapeMetrics(`http://127.0.0.1:${port}`).catch(() =>
          null
        );
        return m?.text.includes("pothead_worker_jobs_total") ?? false;
      }, "the worker's metrics");
      w.kill("SIGTERM");
      assert.equal((await w.status).code, 0, w.lines.slice(-5).join("\n"));
      assert.deepEqual(w.lines.filter((l) => /NotCapable/.test(l)), []);
    },
  );

  await t.step("--poll-jobs with the CPU and memory gates", async () => {
    await using w = await startWorker(
      hub.workerAddr,
      [
        ...common,
        "--poll-jobs",
        "--gate-cpu",
        "0.01",
        "--gate-memory",
        "1MiB",
        APP,
      ],
      1,
      {},
      WORKER_FLAGS,
    );
    assert.match(await ok(`${hub.url}/b`), /^ok /);
    w.kill("SIGTERM");
    assert.equal((await w.status).code, 0, w.lines.slice(-5).join("\n"));
    assert.deepEqual(w.lines.filter((l) => /NotCapable/.test(l)), []);
  });

  await t.step("--processes 2", async () => {
    await using w = await startWorker(
      hub.workerAddr,
      [...common, "--processes", "2", APP],
      2,
      {},
      WORKER_FLAGS,
    );
    assert.match(await ok(`${hub.url}/c`), /^ok /);
    w.kill("SIGTERM");
    assert.equal((await w.status).code, 0, w.lines.slice(-5).join("\n"));
    assert.deepEqual(w.lines.filter((l) => /NotCapable/.test(l)), []);
  });
});
