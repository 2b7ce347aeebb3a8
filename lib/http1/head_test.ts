import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type HeaderPairs,
  isToken,
  serializeRequestHead,
  serializeResponseHead,
} from "./head.ts";
import { RequestParser, ResponseParser } from "./parser.ts";

function text(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

Deno.test("isToken", () => {
  for (const t of ["GET", "Content-Type", "x", "!#$%&'*+-.^_`|~09azAZ"]) {
    assert.equal(isToken(t), true, t);
  }
  for (const t of ["", "a b", "a:b", "a\tb", "a(b)", "é", "a\x00", "\u0100"]) {
    assert.equal(isToken(t), false, JSON.stringify(t));
  }
});

Deno.test("serializeRequestHead: wire format", () => {
  const bytes = serializeRequestHead({
    method: "POST",
    target: "http://example.com/a?b=c",
    headers: new Map([["Host", "example.com"], ["Content-Length", "3"]]),
  });
  assert.equal(
    text(bytes),
    "POST http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n" +
      "Content-Length: 3\r\n\r\n",
  );
  assert.equal(
    text(serializeRequestHead({ method: "OPTIONS", target: "*", headers: [] })),
    "OPTIONS * HTTP/1.1\r\n\r\n",
  );
});

Deno.test("serializeResponseHead: wire format and reason phrases", () => {
  assert.equal(
    text(serializeResponseHead({ status: 200, headers: [["A", "b"]] })),
    "HTTP/1.1 200 OK\r\nA: b\r\n\r\n",
  );
  assert.equal(
    text(serializeResponseHead({ status: 599, headers: [] })),
    "HTTP/1.1 599 \r\n\r\n",
  );
  assert.equal(
    text(serializeResponseHead({ status: 503, reason: "Busy", headers: [] })),
    "HTTP/1.1 503 Busy\r\n\r\n",
  );
  assert.equal(
    text(
      serializeResponseHead({ status: 101, headers: [["Upgrade", "ptth"]] }),
    ),
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: ptth\r\n\r\n",
  );
});

Deno.test("serialize: values are bytes (latin1), not UTF-8", () => {
  const bytes = serializeResponseHead({
    status: 200,
    headers: [["X", "caf\xe9 \x80\xff"]],
  });
  const i = bytes.indexOf(0x63); // "c"
  assert.deepEqual(
    Array.from(bytes.subarray(i, i + 8)),
    [0x63, 0x61, 0x66, 0xe9, 0x20, 0x80, 0xff, 0x0d],
  );
  assert.throws(
    () => serializeResponseHead({ status: 200, headers: [["X", "\u20ac"]] }),
    { name: "TypeError", message: /field 'X'/ },
  );
});

Deno.test("serialize: rejects CR, LF, NUL and other controls in values", () => {
  for (
    const v of ["a\rb", "a\nb", "a\x00b", "a\r\nX-Injected: 1", "\x7f", "\x1b"]
  ) {
    assert.throws(
      () =>
        serializeRequestHead({
          method: "GET",
          target: "/",
          headers: [["X-Val", v]],
        }),
      { name: "TypeError", message: /field 'X-Val'/ },
      JSON.stringify(v),
    );
    assert.throws(
      () => serializeResponseHead({ status: 200, headers: [["X-Val", v]] }),
      TypeError,
    );
  }
  // HTAB and SP are allowed inside values.
  serializeResponseHead({ status: 200, headers: [["X", "a\tb c"]] });
});

Deno.test("serialize: rejects names that are not tokens", () => {
  for (
    const n of [
      "",
      "Bad Name",
      "Bad:Name",
      "Bad\rName",
      "Bad\nName",
      "Bad\x00",
      "Ünicode",
    ]
  ) {
    assert.throws(
      () => serializeResponseHead({ status: 200, headers: [[n, "v"]] }),
      { name: "TypeError", message: /field name is not a token/ },
      JSON.stringify(n),
    );
  }
});

Deno.test("serialize: rejects bad methods, targets, statuses, reasons", () => {
  for (const method of ["", "G T", "GET\r\n", "GE:T"]) {
    assert.throws(
      () => serializeRequestHead({ method, target: "/", headers: [] }),
      { name: "TypeError", message: /method/ },
    );
  }
  for (const target of ["", "/a b", "/a\r\n", "/\x00", "/\x7f", "/caf\xe9"]) {
    assert.throws(
      () => serializeRequestHead({ method: "GET", target, headers: [] }),
      { name: "TypeError", message: /request-target/ },
    );
  }
  for (const status of [99, 600, 200.5, NaN]) {
    assert.throws(
      () => serializeResponseHead({ status, headers: [] }),
      RangeError,
    );
  }
  assert.throws(
    () => serializeResponseHead({ status: 200, reason: "O\r\nK", headers: [] }),
    { name: "TypeError", message: /reason/ },
  );
});

// Field values as the parser returns them: no leading/trailing OWS, only
// field-vchar, SP, HTAB inside (RFC 9110 §5.5).
const fieldValue = fc.array(
  fc.oneof(
    fc.integer({ min: 0x21, max: 0x7e }),
    fc.integer({ min: 0x80, max: 0xff }),
    fc.constantFrom(0x20, 0x09),
  ),
  { maxLength: 40 },
).map((codes) => String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, ""));
const tokenChars =
  "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.array(fc.constantFrom(...tokenChars), {
  minLength: 1,
  maxLength: 20,
}).map((cs) => cs.join(""));
// Framing fields would change what the parser does with the bytes.
const fieldName = token.filter((n) =>
  !["content-length", "transfer-encoding"].includes(n.toLowerCase())
);
const fields = fc.array(fc.tuple(fieldName, fieldValue), {
  maxLength: 20,
}) as fc.Arbitrary<HeaderPairs>;

Deno.test("serialize → parse round trip (property)", () => {
  fc.assert(
    fc.property(
      token,
      fc.constantFrom("/", "*", "/a/b?c=d&e", "http://h:1/x", "h:443"),
      fields,
      (method, target, headers) => {
        const { events } = new RequestParser().feed(
          serializeRequestHead({ method, target, headers }),
        );
        const head = events[0];
        assert.ok(head.type === "head");
        assert.deepEqual(head.head, {
          method,
          target,
          version: "HTTP/1.1",
          headers,
        });
      },
    ),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 200, max: 599 }),
      fc.option(fieldValue, { nil: undefined }),
      fields,
      (status, reason, headers) => {
        const p = new ResponseParser();
        p.expect("HEAD");
        const { events } = p.feed(
          serializeResponseHead({ status, reason, headers }),
        );
        const head = events[0];
        assert.ok(head.type === "head");
        assert.equal(head.head.status, status);
        if (reason !== undefined) assert.equal(head.head.reason, reason);
        assert.deepEqual(head.head.headers, headers);
      },
    ),
  );
});

Deno.test("serialize: results never overlap, even from a shared slab", () => {
  const first = serializeResponseHead({ status: 200, headers: [["A", "1"]] });
  const copy = first.slice();
  for (let i = 0; i < 5000; i++) {
    serializeRequestHead({
      method: "GET",
      target: "/" + i,
      headers: [["B", "x".repeat(i % 50)]],
    });
  }
  assert.deepEqual(first, copy);
  // A consumer that transfers (detaches) a result's buffer does not break
  // later results.
  structuredClone(first.buffer, { transfer: [first.buffer] });
  assert.equal(first.length, 0);
  assert.equal(
    text(serializeResponseHead({ status: 204, headers: [] })),
    "HTTP/1.1 204 No Content\r\n\r\n",
  );
  // Large heads get their own buffer.
  const big = serializeResponseHead({
    status: 200,
    headers: [["X", "y".repeat(10000)]],
  });
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, big.length);
});
