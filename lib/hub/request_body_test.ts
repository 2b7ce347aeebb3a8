import assert from "node:assert/strict";
import { HubError } from "./errors.ts";
import { RequestBody } from "./request_body.ts";

/** A byte stream (BYOB-capable, like Deno.serve's bodies) of the given chunks. */
function byteStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++].slice());
      else {
        c.close();
        // A pending BYOB read resolves (as done) only once answered.
        c.byobRequest?.respond(0);
      }
    },
  });
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

async function collect(body: RequestBody): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  // Copy each chunk as the pump writes it: the read buffer is reused.
  for await (const c of body.chunks()) parts.push(c.slice());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("a body of known length read into a reused buffer arrives intact", async () => {
  const chunks = [pattern(1000, 1), pattern(70_000, 2), pattern(5, 3)];
  const whole = new Uint8Array([...chunks[0], ...chunks[1], ...chunks[2]]);
  const body = new RequestBody(byteStream(chunks), whole.length);
  assert.deepEqual(await collect(body), whole);
  assert.equal(body.bytesRead, whole.length);
  assert.equal(body.replayable, false);
});

Deno.test("a small body replays byte for byte although the read buffer is reused", async () => {
  const chunks = [pattern(3000, 4), pattern(2000, 5), pattern(100, 6)];
  const whole = new Uint8Array([...chunks[0], ...chunks[1], ...chunks[2]]);
  const body = new RequestBody(byteStream(chunks), whole.length);
  assert.deepEqual(await collect(body), whole);
  assert.equal(body.replayable, true);
  assert.deepEqual(await collect(body), whole);
});

Deno.test("a body beyond the replay buffer cannot be replayed", async () => {
  const body = new RequestBody(byteStream([pattern(80_000, 7)]), 80_000);
  await collect(body);
  assert.equal(body.replayable, false);
  await assert.rejects(() => collect(body), /replay buffer/);
});

Deno.test("a chunked body (unknown length) streams and replays too", async () => {
  const chunks = [pattern(10, 8), pattern(20, 9)];
  const body = new RequestBody(byteStream(chunks), null);
  const whole = new Uint8Array([...chunks[0], ...chunks[1]]);
  assert.deepEqual(await collect(body), whole);
  assert.deepEqual(await collect(body), whole);
});

Deno.test("reading past maxBytes fails with body-too-large", async () => {
  const body = new RequestBody(
    byteStream([pattern(600, 1), pattern(600, 2)]),
    null,
    { maxBytes: 1000 },
  );
  await assert.rejects(
    () => collect(body),
    (err: unknown) => err instanceof HubError && err.code === "body-too-large",
  );
});

Deno.test("readSmall returns the whole small body, owning its bytes", async () => {
  const chunks = [pattern(100, 1), pattern(50, 2)];
  const body = new RequestBody(byteStream(chunks), 150);
  const small = await body.readSmall(1024);
  assert.deepEqual(small, new Uint8Array([...chunks[0], ...chunks[1]]));
  const big = new RequestBody(byteStream(chunks), 150);
  assert.equal(await big.readSmall(100), null);
});
