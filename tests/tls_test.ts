/**
 * TLS on the consumer port (HTTP/2 by ALPN), on the worker port, and mutual
 * TLS for workers (issue 5, item 2). Certificates come from openssl.
 */

import assert from "node:assert/strict";
import { makeTestPki } from "./certs.ts";
import { scrape } from "./metrics_text.ts";
import { spawnDeno, startHub, startWorker, until } from "./processes.ts";

const APP = "tests/fixtures/recording_app.ts";

Deno.test("TLS: consumer port serves HTTPS, offers h2 by ALPN, and refuses plain HTTP", async () => {
  await using pki = await makeTestPki();
  await using hub = await startHub([
    "--tls-cert",
    pki.serverCert,
    "--tls-key",
    pki.serverKey,
  ]);
  await using _worker = await startWorker(hub.workerAddr, [APP]);
  const https = hub.url.replace(/^http:/, "https:");
  const client = Deno.createHttpClient({ caCerts: [pki.pem(pki.caFile)] });
  try {
    const res = await fetch(`${https}/hello?x=1`, { client });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.path, "/hello?x=1");
    assert.equal(body.proto, "https", "X-Forwarded-Proto tells the worker");

    // HTTP/2 is offered by ALPN.
    const port = Number(new URL(https).port);
    const tls = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [pki.pem(pki.caFile)],
      alpnProtocols: ["h2", "http/1.1"],
    });
    const hs = await tls.handshake();
    tls.close();
    assert.equal(hs.alpnProtocol, "h2");

    // Plain HTTP on the TLS port gets no HTTP answer.
    const plain = await fetch(hub.url, { signal: AbortSignal.timeout(5000) })
      .then((r) => r.body?.cancel().then(() => r.status))
      .catch(() => "failed");
    assert.equal(plain, "failed");
  } finally {
    client.close();
  }
});

Deno.test("TLS: worker port with --worker-tls-cert; workers dial with --tls --ca-file", async () => {
  await using pki = await makeTestPki();
  await using hub = await startHub([
    "--worker-tls-cert",
    pki.serverCert,
    "--worker-tls-key",
    pki.serverKey,
  ]);
  await using _worker = await startWorker(hub.workerAddr, [
    "--tls",
    "--ca-file",
    pki.caFile,
    APP,
  ]);
  const res = await fetch(`${hub.url}/over-tls`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).path, "/over-tls");

  // A worker that does not trust the hub's certificate never connects.
  await using untrusting = spawnDeno("worker.ts", [
    "--log-format",
    "json",
    "--connect",
    hub.workerAddr,
    "--tls",
    APP,
  ]);
  const line = await untrusting.waitFor((l) =>
    l.msg === "cannot connect to hub"
  );
  assert.match(String(line.reason), /certificate|Unknown|issuer/i);
  assert.equal(
    await scrape(hub.metricsUrl, "pothead_hub_worker_connections_total", {
      result: "accepted",
    }),
    1,
  );
});

Deno.test("mTLS: --worker-client-ca admits only workers with a certificate from the CA", async () => {
  await using pki = await makeTestPki();
  await using hub = await startHub([
    "--worker-tls-cert",
    pki.serverCert,
    "--worker-tls-key",
    pki.serverKey,
    "--worker-client-ca",
    pki.caFile,
  ]);
  const tlsArgs = ["--tls", "--ca-file", pki.caFile];
  await using _good = await startWorker(hub.workerAddr, [
    ...tlsArgs,
    "--cert",
    pki.clientCert,
    "--key",
    pki.clientKey,
    APP,
  ]);
  const res = await fetch(`${hub.url}/mutual`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).path, "/mutual");

  const spawnWorker = (extra: string[]) =>
    spawnDeno("worker.ts", [
      "--log-format",
      "json",
      "--connect",
      hub.workerAddr,
      ...tlsArgs,
      ...extra,
      APP,
    ]);
  // Without a client certificate, and with one from another CA.
  await using _none = spawnWorker([]);
  await using _rogue = spawnWorker([
    "--cert",
    pki.rogueCert,
    "--key",
    pki.rogueKey,
  ]);
  await until(
    async () =>
      await scrape(hub.metricsUrl, "pothead_hub_worker_connections_total", {
        result: "tls-failed",
      }) >= 2,
    "two TLS refusals",
    15_000,
  );
  await hub.waitFor((l) =>
    l.msg === "worker refused" && l.result === "tls-failed"
  );
  assert.equal(
    await scrape(hub.metricsUrl, "pothead_hub_worker_connections_total", {
      result: "accepted",
    }),
    1,
    "only the worker with a good certificate joined",
  );
  assert.equal(
    await scrape(hub.metricsUrl, "pothead_hub_workers", { state: "idle" }),
    1,
  );
});
