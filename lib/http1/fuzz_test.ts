/**
 * Property tests of the codec against hostile input (issue 5, item 4):
 * random valid messages round-trip exactly however the bytes are split;
 * random mutations and truncations never crash and never hang, and end in
 * a clean `Http1ParseError` (or in messages the parser accepts as valid).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  concat,
  encode,
  isCleanParseError,
  type Message,
  mutate,
  mutation,
  parseStream,
  request,
  response,
  split,
} from "../../tests/http1_messages.ts";
import { Http1ErrorCode } from "./errors.ts";

const RUNS = { numRuns: 300 };
const CODES = new Set<string>(Object.values(Http1ErrorCode));

const cuts = fc.array(fc.nat(), { maxLength: 10 });

function expectSame(
  kind: "request" | "response",
  sent: Message[],
  bytes: Uint8Array[],
  expected: ReturnType<typeof encode>[],
) {
  const out = parseStream(kind, bytes);
  assert.equal(out.error, null, String(out.error));
  assert.equal(out.messages.length, sent.length);
  out.messages.forEach((got, i) => {
    const m = sent[i];
    if (kind === "request") {
      assert.equal(got.method, m.method);
      assert.equal(got.target, m.target);
    } else assert.equal(got.target, String(m.status));
    assert.deepEqual(got.headers, expected[i].headers);
    assert.deepEqual(got.body, m.body);
    assert.equal(got.keepAlive, true);
  });
}

Deno.test("fuzz: random requests round-trip exactly, pipelined, split anywhere", () => {
  fc.assert(
    fc.property(
      fc.array(request(), { minLength: 1, maxLength: 3 }),
      cuts,
      (msgs, points) => {
        const encoded = msgs.map(encode);
        const stream = concat(encoded.map((e) => e.bytes));
        expectSame("request", msgs, split(stream, points), encoded);
      },
    ),
    RUNS,
  );
});

Deno.test("fuzz: random responses round-trip exactly, split anywhere", () => {
  fc.assert(
    fc.property(
      fc.array(response(), { minLength: 1, maxLength: 3 }),
      cuts,
      (msgs, points) => {
        const encoded = msgs.map(encode);
        const stream = concat(encoded.map((e) => e.bytes));
        expectSame("response", msgs, split(stream, points), encoded);
      },
    ),
    RUNS,
  );
});

Deno.test("fuzz: every truncation of a valid message ends in 'truncated' at eof", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        request().map((m) => ["request", m] as const),
        response().map((m) => ["response", m] as const),
      ),
      ([kind, m]) => {
        const { bytes } = encode(m);
        for (let n = 1; n < bytes.length; n++) {
          const out = parseStream(kind, [bytes.subarray(0, n)]);
          assert.equal(out.messages.length, 0, `prefix ${n} is not a message`);
          assert.ok(isCleanParseError(out.error), `prefix ${n}: ${out.error}`);
          assert.equal(
            (out.error as { code: string }).code,
            Http1ErrorCode.Truncated,
          );
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("fuzz: mutated messages never crash or hang; they parse or fail cleanly", () => {
  let failures = 0;
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.constantFrom("request" as const, "response" as const),
      fc.array(request(), { minLength: 1, maxLength: 2 }),
      fc.array(response(), { minLength: 1, maxLength: 2 }),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      cuts,
      (kind, reqs, resps, edits, points) => {
        const msgs = kind === "request" ? reqs : resps;
        const stream = concat(msgs.map((m) => encode(m).bytes));
        const bytes = mutate(stream, edits);
        const started = performance.now();
        const out = parseStream(kind, split(bytes, points));
        // Linear work: a few KB never takes long, whatever the bytes.
        assert.ok(performance.now() - started < 2000, "parsing hung");
        if (out.error !== null) {
          if (typeof out.error === "string") return; // bytes after a close
          assert.ok(isCleanParseError(out.error), `not clean: ${out.error}`);
          assert.ok(CODES.has((out.error as { code: string }).code));
          failures++;
        } else {
          accepted++;
          // Whatever is accepted holds no more body than was sent.
          const total = out.messages.reduce((n, m) => n + m.body.length, 0);
          assert.ok(total <= bytes.length);
        }
      },
    ),
    { numRuns: 2000 },
  );
  assert.ok(failures > 0 && accepted > 0, `${failures} / ${accepted}`);
});

Deno.test("fuzz: random bytes never crash the parsers", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("request" as const, "response" as const),
      fc.uint8Array({ maxLength: 600 }),
      cuts,
      (kind, bytes, points) => {
        const out = parseStream(kind, split(bytes, points));
        if (out.error !== null && typeof out.error !== "string") {
          assert.ok(isCleanParseError(out.error), `not clean: ${out.error}`);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("fuzz: heads beyond the limit are refused however they arrive", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 65_537, max: 200_000 }),
      fc.integer({ min: 1, max: 9000 }),
      (size, piece) => {
        const head = new TextEncoder().encode(
          `GET / HTTP/1.1\r\nX-Big: ${"a".repeat(size)}\r\n\r\n`,
        );
        const pieces: Uint8Array[] = [];
        for (let i = 0; i < head.length; i += piece) {
          pieces.push(head.subarray(i, i + piece));
        }
        const out = parseStream("request", pieces, { eof: false });
        assert.equal(
          (out.error as { code?: string } | null)?.code,
          Http1ErrorCode.HeadTooLarge,
        );
      },
    ),
    { numRuns: 20 },
  );
});
