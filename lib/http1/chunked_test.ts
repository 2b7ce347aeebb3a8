import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CHUNK_END,
  ChunkedDecoder,
  type ChunkedDecoderOptions,
  chunkHeader,
  encodeChunk,
  LAST_CHUNK,
} from "./chunked.ts";
import { Http1ParseError } from "./errors.ts";

function b(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function text(parts: Uint8Array[]): string {
  return parts.map((p) => String.fromCharCode(...p)).join("");
}

/** Decodes pieces; returns the body, and the bytes left after the end. */
function decodeAll(
  pieces: Uint8Array[],
  options?: ChunkedDecoderOptions,
): { body: string; rest: string; done: boolean } {
  const dec = new ChunkedDecoder(options);
  const out: Uint8Array[] = [];
  let rest = "";
  for (const piece of pieces) {
    if (dec.done) {
      rest += text([piece]);
      continue;
    }
    const end = dec.decode(piece, 0, out);
    assert.ok(end <= piece.length);
    if (end < piece.length) {
      assert.ok(dec.done, "stops early only at the end of the body");
      rest += text([piece.subarray(end)]);
    }
  }
  for (const o of out) assert.ok(o.length > 0, "no empty data views");
  return { body: text(out), rest, done: dec.done };
}

const BODIES = [
  { wire: "0\r\n\r\n", body: "" },
  { wire: "5\r\nhello\r\n0\r\n\r\n", body: "hello" },
  {
    wire: '3;a=1;b="x;y\\"z"\r\nabc\r\nA \t;e\r\n0123456789\r\n' +
      "0 ; last\r\nTrailer-A: 1\r\nTrailer-B:\r\n\r\n",
    body: "abc0123456789",
  },
  { wire: "1F\r\n" + "x".repeat(31) + "\r\n00\r\n\r\n", body: "x".repeat(31) },
  { wire: "2\r\n\r\n\r\n0\r\n\r\n", body: "\r\n" },
];

Deno.test("ChunkedDecoder: split at every byte boundary", () => {
  for (const { wire, body } of BODIES) {
    const all = b(wire + "NEXT");
    const whole = decodeAll([all]);
    assert.deepEqual(whole, { body, rest: "NEXT", done: true });
    for (let i = 1; i < all.length; i++) {
      assert.deepEqual(
        decodeAll([all.subarray(0, i), all.subarray(i)]),
        whole,
        `${JSON.stringify(wire)} split at ${i}`,
      );
    }
    const bytes = Array.from(all, (_, i) => all.subarray(i, i + 1));
    assert.deepEqual(decodeAll(bytes), whole);
  }
});

Deno.test("ChunkedDecoder: starts at offset, returns where the body ends", () => {
  const input = b("HEAD4\r\nwxyz\r\n0\r\n\r\nNEXT");
  const dec = new ChunkedDecoder();
  const out: Uint8Array[] = [];
  const end = dec.decode(input, 4, out);
  assert.equal(end, input.length - 4);
  assert.equal(dec.done, true);
  assert.equal(text(out), "wxyz");
  assert.equal(out[0].buffer, input.buffer, "a view, not a copy");
  // Once done it consumes nothing more.
  assert.equal(dec.decode(input, end, out), end);
  dec.reset();
  assert.equal(dec.done, false);
  assert.equal(dec.decode(b("0\r\n\r\n"), 0, out), 5);
  assert.equal(dec.done, true);
});

Deno.test("ChunkedDecoder: not done before the final CRLF", () => {
  const dec = new ChunkedDecoder();
  dec.decode(b("0\r\nX: y\r\n"), 0, []);
  assert.equal(dec.done, false);
  dec.decode(b("\r"), 0, []);
  assert.equal(dec.done, false);
  dec.decode(b("\n"), 0, []);
  assert.equal(dec.done, true);
});

function rejects(
  code: string,
  wire: string,
  options?: ChunkedDecoderOptions,
): void {
  for (const split of [false, true]) {
    const all = b(wire);
    const pieces = split
      ? Array.from(all, (_, i) => all.subarray(i, i + 1))
      : [all];
    assert.throws(
      () => decodeAll(pieces, options),
      (err: unknown) => {
        assert.ok(err instanceof Http1ParseError);
        assert.equal(err.code, code, `${JSON.stringify(wire)}: ${err.message}`);
        return true;
      },
      JSON.stringify(wire),
    );
  }
}

Deno.test("ChunkedDecoder: rejects bad chunk sizes", () => {
  for (
    const wire of [
      "zz\r\n",
      "\r\n",
      ";a\r\n",
      " 5\r\n",
      "+5\r\n",
      "5x\r\n",
      "5 \r\n",
      "5 5\r\n",
      "5\t\r\n",
      "5\n",
      "20000000000000\r\n", // 2^53: past Number.MAX_SAFE_INTEGER
      "ffffffffffffffffff\r\n",
      "00000000000000000\r\n", // 17 digits
    ]
  ) {
    rejects("invalid-chunk", wire);
  }
  // The largest safe size is accepted (and then the body is simply long).
  const dec = new ChunkedDecoder();
  dec.decode(b("1fffffffffffff\r\nabc"), 0, []);
  assert.equal(dec.done, false);
});

Deno.test("ChunkedDecoder: rejects missing CRLF after data", () => {
  rejects("invalid-chunk", "3\r\nabcd\r\n");
  rejects("invalid-chunk", "3\r\nabc\r\r\n");
  rejects("invalid-chunk", "3\r\nabc\n0\r\n\r\n");
  rejects("invalid-chunk", "3\r\nabc0\r\n\r\n");
});

Deno.test("ChunkedDecoder: bounds chunk extensions", () => {
  const ext = ";" + "e".repeat(99);
  rejects("invalid-chunk", `5${ext}\r\nhello\r\n0\r\n\r\n`, {
    maxChunkExtensionBytes: 99,
  });
  assert.equal(
    decodeAll([b(`5${ext}\r\nhello\r\n0\r\n\r\n`)], {
      maxChunkExtensionBytes: 100,
    }).body,
    "hello",
  );
  rejects("invalid-chunk", "5;a\x00\r\n");
  rejects("invalid-chunk", "5;a\nhello\r\n");
  rejects("bare-cr", "5;a\rb\r\nhello\r\n");
  rejects("bare-cr", "5\rhello\r\n");
});

Deno.test("ChunkedDecoder: bounds and checks trailers", () => {
  const trailer = "X: " + "y".repeat(50) + "\r\n";
  rejects("trailers-too-large", "0\r\n" + trailer + "\r\n", {
    maxTrailerBytes: trailer.length + 1,
  });
  assert.equal(
    decodeAll([b("0\r\n" + trailer + "\r\n")], {
      maxTrailerBytes: trailer.length + 2,
    }).done,
    true,
  );
  rejects("invalid-header", "0\r\nX: y\n\r\n");
  rejects("invalid-header", "0\r\n\n");
  rejects("invalid-header", "0\r\nX: \x00\r\n\r\n");
  rejects("bare-cr", "0\r\nX: a\rb\r\n\r\n");
  rejects("bare-cr", "0\r\n\rX");
});

Deno.test("ChunkedDecoder: options are checked", () => {
  assert.throws(() => new ChunkedDecoder({ maxTrailerBytes: -1 }), RangeError);
});

Deno.test("encoder helpers", () => {
  assert.equal(text([chunkHeader(0)]), "0\r\n");
  assert.equal(text([chunkHeader(255)]), "ff\r\n");
  assert.equal(
    text([chunkHeader(Number.MAX_SAFE_INTEGER)]),
    "1fffffffffffff\r\n",
  );
  assert.throws(() => chunkHeader(-1), RangeError);
  assert.throws(() => chunkHeader(1.5), RangeError);
  assert.equal(text([CHUNK_END]), "\r\n");
  assert.equal(text([LAST_CHUNK]), "0\r\n\r\n");
  assert.equal(text([encodeChunk(b("hello"))]), "5\r\nhello\r\n");
  assert.equal(encodeChunk(new Uint8Array(0)).length, 0);
});

Deno.test("encode → decode round trip (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (chunks, cuts) => {
        const parts = chunks.map((c, i) =>
          i % 2 === 0
            ? encodeChunk(c)
            : c.length === 0
            ? new Uint8Array(0)
            : new Uint8Array([...chunkHeader(c.length), ...c, ...CHUNK_END])
        );
        const wire = new Uint8Array(
          [...parts.flatMap((p) => [...p]), ...LAST_CHUNK],
        );
        const at = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort(
          (x, y) => x - y,
        );
        const pieces: Uint8Array[] = [];
        let prev = 0;
        for (const c of [...at, wire.length]) {
          pieces.push(wire.subarray(prev, c));
          prev = c;
        }
        const got = decodeAll(pieces);
        assert.equal(got.done, true);
        assert.equal(got.rest, "");
        assert.equal(got.body, text(chunks));
      },
    ),
  );
});
