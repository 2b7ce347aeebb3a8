/**
 * Differential test of the codec against a second parser from npm,
 * `http-parser-js` (issue 5, item 4): on random valid messages, and on
 * random mutations of them, every input this codec accepts is accepted by
 * the reference too, and both find the same messages — same method, target,
 * fields, body bytes, and the same boundaries between pipelined messages.
 * Where two parsers disagree on where a message ends, a proxy in front of
 * one and a server behind it can be smuggled (RFC 9112 §11.2).
 *
 * The codec is deliberately stricter (bare LF, obs-fold, CL with TE, NUL
 * bytes, whitespace before the colon are errors here and tolerated there),
 * so inputs only the reference accepts are counted, not failures. A few
 * inputs are valid HTTP that the reference reads differently; they are
 * listed in `referenceLimitation` with the reason.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { HTTPParser } from "http-parser-js";
import {
  concat,
  encode,
  METHODS,
  mutate,
  mutation,
  type Parsed,
  parseStream,
  request,
  response,
  split,
} from "../../tests/http1_messages.ts";

// Field values are bytes (latin1), as in the codec; the reference's default
// 'ascii' would drop the high bit of obs-text.
HTTPParser.encoding = "latin1";

interface Reference {
  messages: Parsed[];
  error: Error | null;
  upgrade: boolean;
}

/** Parses a whole byte stream with http-parser-js, then end of stream. */
function reference(kind: "request" | "response", bytes: Uint8Array): Reference {
  const parser = new HTTPParser(
    kind === "request" ? HTTPParser.REQUEST : HTTPParser.RESPONSE,
  );
  const messages: Parsed[] = [];
  let current: (Parsed & { parts: Uint8Array[]; status: number }) | null = null;
  let upgrade = false;
  parser[HTTPParser.kOnHeadersComplete] = (info) => {
    const headers: [string, string][] = [];
    for (let i = 0; i < info.headers.length; i += 2) {
      headers.push([info.headers[i], info.headers[i + 1]]);
    }
    upgrade ||= info.upgrade;
    current = {
      method: kind === "request" ? HTTPParser.methods[info.method] : null,
      target: kind === "request" ? info.url : String(info.statusCode),
      status: info.statusCode,
      headers,
      body: new Uint8Array(0),
      keepAlive: info.shouldKeepAlive,
      parts: [],
    };
  };
  parser[HTTPParser.kOnBody] = (chunk, offset, length) => {
    current?.parts.push(
      Uint8Array.from(chunk.subarray(offset, offset + length)),
    );
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    if (!current) return;
    const { parts, status, ...m } = current;
    current = null;
    // The codec does not report interim responses.
    if (kind === "response" && status >= 100 && status < 200) return;
    messages.push({ ...m, body: concat(parts) });
  };
  let error: Error | null = null;
  try {
    const r = parser.execute(Buffer.from(bytes));
    if (r instanceof Error) error = r;
    else {
      const f = parser.finish();
      if (f instanceof Error) error = f;
    }
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err));
  }
  if (!error && current !== null) error = new Error("incomplete message");
  return { messages, error, upgrade };
}

const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

/**
 * Valid HTTP that http-parser-js reads differently, or cannot read; not a
 * disagreement about this codec. Returns the reason, or null.
 */
function referenceLimitation(
  kind: "request" | "response",
  bytes: Uint8Array,
  ours: Parsed[],
  ref: Reference,
): string | null {
  const text = latin1(bytes);
  // RFC 9110 §8.6: "Content-Length: 5, 5" is 5; the reference reads NaN.
  if (/content-length:[^\r\n]*,/i.test(text)) return "CL list";
  // RFC 9112 §6.1: a response whose final coding is chunked is chunked;
  // the reference knows only the exact value "chunked" (and the last field).
  if (
    /transfer-encoding/i.test(text) &&
    ours.some((m) =>
      m.headers.some(([n, v]) =>
        n.toLowerCase() === "transfer-encoding" &&
        v.trim().toLowerCase() !== "chunked"
      ) ||
      m.headers.filter(([n]) => n.toLowerCase() === "transfer-encoding")
          .length > 1
    )
  ) return "TE list";
  // Only known methods are accepted by the reference.
  if (kind === "request" && ours.some((m) => !METHODS.includes(m.method!))) {
    if (ours.some((m) => !HTTPParser.methods.includes(m.method!))) {
      return "method unknown to the reference";
    }
  }
  // Upgrade requests stop the reference after the head.
  if (ref.upgrade) return "upgrade";
  return null;
}

function assertSameMessages(ours: Parsed[], ref: Parsed[], where: string) {
  assert.equal(ref.length, ours.length, `${where}: message count`);
  ours.forEach((m, i) => {
    const r = ref[i];
    assert.equal(r.method, m.method, `${where}: method of ${i}`);
    assert.equal(r.target, m.target, `${where}: target of ${i}`);
    assert.deepEqual(r.headers, m.headers, `${where}: fields of ${i}`);
    assert.deepEqual(r.body, m.body, `${where}: body of ${i}`);
  });
}

Deno.test("differential: valid messages read the same in http-parser-js", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("request" as const, "response" as const),
      fc.array(request(), { minLength: 1, maxLength: 3 }),
      fc.array(response(), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (kind, reqs, resps, cuts) => {
        const msgs = kind === "request" ? reqs : resps;
        const bytes = concat(msgs.map((m) => encode(m).bytes));
        const ours = parseStream(kind, split(bytes, cuts));
        assert.equal(ours.error, null);
        const ref = reference(kind, bytes);
        assert.equal(ref.error, null, String(ref.error));
        assertSameMessages(ours.messages, ref.messages, "valid");
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("differential: whatever the codec accepts of mutated input, http-parser-js reads the same way", () => {
  const tally = { both: 0, oursOnlyRejects: 0, limitation: 0, bothReject: 0 };
  const reasons: Record<string, number> = {};
  fc.assert(
    fc.property(
      fc.constantFrom("request" as const, "response" as const),
      fc.array(request(), { minLength: 1, maxLength: 2 }),
      fc.array(response(), { minLength: 1, maxLength: 2 }),
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      (kind, reqs, resps, edits) => {
        const msgs = kind === "request" ? reqs : resps;
        const bytes = mutate(concat(msgs.map((m) => encode(m).bytes)), edits);
        const ours = parseStream(kind, [bytes]);
        const ref = reference(kind, bytes);
        const oursAccepts = ours.error === null && !ours.pending &&
          ours.messages.length > 0;
        if (!oursAccepts) {
          if (ref.error) tally.bothReject++;
          else tally.oursOnlyRejects++;
          return;
        }
        const why = referenceLimitation(kind, bytes, ours.messages, ref);
        if (why !== null) {
          tally.limitation++;
          reasons[why] = (reasons[why] ?? 0) + 1;
          return;
        }
        tally.both++;
        assert.equal(
          ref.error,
          null,
          `the codec accepts ${
            JSON.stringify(latin1(bytes))
          } but the reference fails: ${ref.error}`,
        );
        assertSameMessages(
          ours.messages,
          ref.messages,
          JSON.stringify(latin1(bytes)),
        );
      },
    ),
    { numRuns: 3000 },
  );
  // The comparison must have had something to compare.
  assert.ok(tally.both > 100, JSON.stringify(tally));
});
