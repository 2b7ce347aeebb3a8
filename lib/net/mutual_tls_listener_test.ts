import assert from "node:assert/strict";
import { makeTestPki } from "../../tests/certs.ts";
import { listenMutualTls } from "./mutual_tls_listener.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("listenMutualTls: only clients with a certificate from the CA get through", async () => {
  await using pki = await makeTestPki();
  const errors: string[] = [];
  const listener = await listenMutualTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.pem(pki.serverCert),
    key: pki.pem(pki.serverKey),
    ca: pki.pem(pki.caFile),
    onHandshakeError: (err) => errors.push(err.message),
  });
  const port = (listener.addr as Deno.NetAddr).port;
  // An echo server that reads with small buffers (partial chunks).
  const served = (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(3);
        for (;;) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) break;
          await conn.write(buf.slice(0, n));
        }
        conn.close();
      })();
    }
  })();
  const connect = (cert?: string, key?: string) =>
    Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [pki.pem(pki.caFile)],
      cert: cert ? pki.pem(cert) : undefined,
      key: key ? pki.pem(key) : undefined,
    });
  const echo = async (conn: Deno.TlsConn, text: string) => {
    await conn.write(enc.encode(text));
    let got = "";
    const buf = new Uint8Array(64);
    while (got.length < text.length) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += dec.decode(buf.subarray(0, n));
    }
    return got;
  };

  const good = await connect(pki.clientCert, pki.clientKey);
  assert.deepEqual(await echo(good, "hello, mutual tls"), "hello, mutual tls");
  good.close();

  for (
    const [cert, key] of [[undefined, undefined], [pki.rogueCert, pki.rogueKey]]
  ) {
    await assert.rejects(async () => {
      const bad = await connect(cert, key);
      try {
        await echo(bad, "let me in");
        const n = await bad.read(new Uint8Array(8));
        if (n === null) throw new Error("closed");
      } finally {
        bad.close();
      }
    });
  }
  for (let i = 0; i < 100 && errors.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(errors.length, 2);
  listener.close();
  await served;
});
