import assert from "node:assert/strict";
import { counters, fakeWorker } from "./ptth_fake_workers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function readUntil(conn: Deno.Conn, marker: string): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  for (let i = 0; i < 100 && !text.includes(marker); i++) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("fake worker: PTTH handshake, 204 to OPTIONS *, 200 to a job", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const hub = (async () => {
    const conn = await l.accept();
    const hello = await readUntil(conn, "\r\n\r\n");
    assert.match(
      hello,
      /^GET \/\.well-known\/pothead\/v1\/ptth HTTP\/1\.1\r\n/,
    );
    assert.match(hello, /\r\nUpgrade: ptth\r\n/);
    assert.match(hello, /\r\nPothead-Pool: default\r\n/);
    await conn.write(
      enc.encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: ptth\r\nConnection: Upgrade\r\nALPN: http/1.1\r\n\r\n",
      ),
    );
    await conn.write(enc.encode("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.match(await readUntil(conn, "\r\n\r\n"), /^HTTP\/1\.1 204 /);
    await conn.write(
      enc.encode(
        "POST /job HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
      ),
    );
    assert.match(
      await readUntil(conn, "ok\n"),
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/,
    );
    conn.close();
  })();
  assert.equal(await fakeWorker("127.0.0.1", port, "1"), true);
  await hub;
  l.close();
  assert.equal(counters.connected, 1);
  assert.equal(counters.probes, 1);
  assert.equal(counters.served, 1);
  for (let i = 0; i < 50 && counters.closed < 1; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(counters.closed, 1);
});
