import assert from "node:assert/strict";
import fc from "fast-check";
import { Http1ParseError } from "./errors.ts";
import type { RequestHead, ResponseHead } from "./head.ts";
import {
  type BodyFraming,
  type ParseEvent,
  type ParserOptions,
  RequestParser,
  ResponseParser,
} from "./parser.ts";

/** Bytes of a string whose code units are bytes (latin1). */
function b(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** What a message reassembles to, whatever the pieces. */
interface Outcome {
  head: RequestHead | ResponseHead | null;
  framing: BodyFraming | null;
  keepAlive: boolean | null;
  body: string;
  ends: number;
  heads: number;
  /** Bytes not consumed: `remaining` of the last message plus later feeds. */
  rest: string;
}

interface Parser {
  feed(chunk: Uint8Array): {
    events: ParseEvent<RequestHead | ResponseHead>[];
    remaining: Uint8Array | null;
  };
  eof(): ParseEvent<RequestHead | ResponseHead>[];
  readonly state: string;
}

function run(parser: Parser, pieces: Uint8Array[], eof: boolean): Outcome {
  const out: Outcome = {
    head: null,
    framing: null,
    keepAlive: null,
    body: "",
    ends: 0,
    heads: 0,
    rest: "",
  };
  const body: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  const take = (events: ParseEvent<RequestHead | ResponseHead>[]) => {
    for (const e of events) {
      if (e.type === "head") {
        out.heads++;
        out.head = e.head;
        out.framing = e.framing;
        out.keepAlive = e.keepAlive;
      } else if (e.type === "data") {
        assert.ok(e.data.length > 0, "no empty data events");
        body.push(e.data.slice());
      } else out.ends++;
    }
  };
  for (const piece of pieces) {
    const r = parser.feed(piece);
    take(r.events);
    if (r.remaining) {
      assert.equal(parser.state, "done");
      rest.push(r.remaining.slice());
    }
  }
  if (eof) take(parser.eof());
  out.body = String.fromCharCode(...concat(body));
  out.rest = String.fromCharCode(...concat(rest));
  return out;
}

interface Fixture {
  name: string;
  kind: "request" | "response";
  method?: string;
  wire: string;
  /** Feed EOF after the bytes (close-delimited bodies). */
  eof?: boolean;
  /** Bytes after the message. */
  after?: string;
  expect: {
    head: RequestHead | ResponseHead;
    framing: BodyFraming;
    keepAlive: boolean;
    body: string;
  };
}

const FIXTURES: Fixture[] = [
  {
    name: "GET without body",
    kind: "request",
    wire: "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept:  */*  \r\n" +
      "X-Latin: caf\xe9 \x80\xff\r\nEmpty:\r\n\r\n",
    expect: {
      head: {
        method: "GET",
        target: "/a?b=c",
        version: "HTTP/1.1",
        headers: [
          ["Host", "example.com"],
          ["Accept", "*/*"],
          ["X-Latin", "caf\xe9 \x80\xff"],
          ["Empty", ""],
        ],
      },
      framing: { kind: "none" },
      keepAlive: true,
      body: "",
    },
  },
  {
    name: "POST with Content-Length",
    kind: "request",
    wire:
      "POST /upload HTTP/1.1\r\nhost: h\r\ncontent-length: 11\r\n\r\nhello world",
    after: "GET / HTTP/1.1\r\n\r\n",
    expect: {
      head: {
        method: "POST",
        target: "/upload",
        version: "HTTP/1.1",
        headers: [["host", "h"], ["content-length", "11"]],
      },
      framing: { kind: "length", length: 11 },
      keepAlive: true,
      body: "hello world",
    },
  },
  {
    name: "chunked request with extensions and trailers",
    kind: "request",
    wire: "\r\nPUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" +
      "Connection: close\r\n\r\n" +
      '5;name=value;q="a;b"\r\nhello\r\nA \t; ext\r\n, chunked!\r\n' +
      "0;last\r\nChecksum: abc\r\nOther: x\r\n\r\n",
    expect: {
      head: {
        method: "PUT",
        target: "/c",
        version: "HTTP/1.1",
        headers: [
          ["Host", "h"],
          ["Transfer-Encoding", "chunked"],
          ["Connection", "close"],
        ],
      },
      framing: { kind: "chunked" },
      keepAlive: false,
      body: "hello, chunked!",
    },
  },
  {
    name: "HTTP/1.0 request with keep-alive",
    kind: "request",
    wire: "OPTIONS * HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    expect: {
      head: {
        method: "OPTIONS",
        target: "*",
        version: "HTTP/1.0",
        headers: [["Connection", "Keep-Alive"]],
      },
      framing: { kind: "none" },
      keepAlive: true,
      body: "",
    },
  },
  {
    name: "response with Content-Length",
    kind: "response",
    method: "GET",
    wire:
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n" +
      "\r\nbody",
    after: "HTTP/1.1 204 No Content\r\n\r\n",
    expect: {
      head: {
        version: "HTTP/1.1",
        status: 200,
        reason: "OK",
        headers: [["Content-Length", "4"], ["Content-Type", "text/plain"]],
      },
      framing: { kind: "length", length: 4 },
      keepAlive: true,
      body: "body",
    },
  },
  {
    name: "chunked response",
    kind: "response",
    method: "POST",
    wire:
      "HTTP/1.1 201 Created\r\ntransfer-encoding: Chunked\r\n\r\n3\r\nabc\r\n" +
      "1f\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\n",
    expect: {
      head: {
        version: "HTTP/1.1",
        status: 201,
        reason: "Created",
        headers: [["transfer-encoding", "Chunked"]],
      },
      framing: { kind: "chunked" },
      keepAlive: true,
      body: "abc0123456789abcdef0123456789abcde",
    },
  },
  {
    name: "close-delimited response",
    kind: "response",
    method: "GET",
    wire: "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end\r\n\r\n",
    eof: true,
    expect: {
      head: {
        version: "HTTP/1.0",
        status: 200,
        reason: "OK",
        headers: [["Server", "old"]],
      },
      framing: { kind: "close" },
      keepAlive: false,
      body: "until the end\r\n\r\n",
    },
  },
  {
    name: "HEAD response with Content-Length",
    kind: "response",
    method: "HEAD",
    wire: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
    after: "HTTP/1.1 200 OK\r\n",
    expect: {
      head: {
        version: "HTTP/1.1",
        status: 200,
        reason: "OK",
        headers: [["Content-Length", "1234"]],
      },
      framing: { kind: "none" },
      keepAlive: true,
      body: "",
    },
  },
  {
    name: "204",
    kind: "response",
    method: "DELETE",
    wire: "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
    expect: {
      head: {
        version: "HTTP/1.1",
        status: 204,
        reason: "No Content",
        headers: [["Transfer-Encoding", "chunked"]],
      },
      framing: { kind: "none" },
      keepAlive: true,
      body: "",
    },
  },
  {
    name: "304",
    kind: "response",
    method: "GET",
    wire:
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: "x"\r\n\r\n',
    expect: {
      head: {
        version: "HTTP/1.1",
        status: 304,
        reason: "Not Modified",
        headers: [["Content-Length", "99"], ["ETag", '"x"']],
      },
      framing: { kind: "none" },
      keepAlive: true,
      body: "",
    },
  },
  {
    name: "100-continue then 200",
    kind: "response",
    method: "POST",
    wire: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n" +
      "Link: </s.css>\r\n\r\nHTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
    expect: {
      head: {
        version: "HTTP/1.1",
        status: 200,
        reason: "",
        headers: [["Content-Length", "2"]],
      },
      framing: { kind: "length", length: 2 },
      keepAlive: true,
      body: "ok",
    },
  },
  {
    name: "101 Switching Protocols",
    kind: "response",
    method: "GET",
    wire: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: ptth\r\n" +
      "Connection: Upgrade\r\nALPN: http/1.1\r\n\r\n",
    after: "GET / HTTP/1.1\r\n\r\n",
    expect: {
      head: {
        version: "HTTP/1.1",
        status: 101,
        reason: "Switching Protocols",
        headers: [
          ["Upgrade", "ptth"],
          ["Connection", "Upgrade"],
          ["ALPN", "http/1.1"],
        ],
      },
      framing: { kind: "none" },
      keepAlive: true,
      body: "",
    },
  },
];

function parserFor(f: Fixture, options?: ParserOptions): Parser {
  if (f.kind === "request") return new RequestParser(options);
  const p = new ResponseParser(options);
  p.expect(f.method ?? "GET");
  return p;
}

function check(f: Fixture, got: Outcome, how: string): void {
  assert.deepEqual(got.head, f.expect.head, `${f.name}, ${how}: head`);
  assert.deepEqual(got.framing, f.expect.framing, `${f.name}, ${how}`);
  assert.equal(got.keepAlive, f.expect.keepAlive, `${f.name}, ${how}`);
  assert.equal(got.body, f.expect.body, `${f.name}, ${how}: body`);
  assert.equal(got.heads, 1, `${f.name}, ${how}: one head`);
  assert.equal(got.ends, 1, `${f.name}, ${how}: one end`);
  assert.equal(got.rest, f.after ?? "", `${f.name}, ${how}: remaining`);
}

for (const f of FIXTURES) {
  Deno.test(`parser: ${f.name}: whole, split in two everywhere, byte by byte`, () => {
    const wire = b(f.wire + (f.after ?? ""));
    const whole = run(parserFor(f), [wire], f.eof ?? false);
    check(f, whole, "whole");
    for (let i = 1; i < wire.length; i++) {
      const got = run(
        parserFor(f),
        [wire.subarray(0, i), wire.subarray(i)],
        f.eof ?? false,
      );
      check(f, got, `split at ${i}`);
    }
    const bytes = Array.from(wire, (_, i) => wire.subarray(i, i + 1));
    check(f, run(parserFor(f), bytes, f.eof ?? false), "byte by byte");
  });
}

Deno.test("parser: fixtures split at random points (property)", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...FIXTURES),
      fc.array(fc.nat(), { maxLength: 12 }),
      (f, cuts) => {
        const wire = b(f.wire + (f.after ?? ""));
        const at = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((
          x,
          y,
        ) => x - y);
        const pieces: Uint8Array[] = [];
        let prev = 0;
        for (const c of [...at, wire.length]) {
          pieces.push(wire.subarray(prev, c));
          prev = c;
        }
        check(f, run(parserFor(f), pieces, f.eof ?? false), `cuts ${at}`);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("parser: body data are views into the fed chunk, not copies", () => {
  const wire = b("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  const { events } = new RequestParser().feed(wire);
  const data = events.find((e) => e.type === "data");
  assert.ok(data?.type === "data");
  assert.equal(data.data.buffer, wire.buffer);
  assert.equal(data.data.byteOffset, wire.length - 3);

  const parser = new ResponseParser();
  parser.feed(b("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const piece = b("3\r\nxyz\r\n");
  const r = parser.feed(piece);
  assert.equal(r.events.length, 1);
  const d = r.events[0];
  assert.ok(d.type === "data");
  assert.equal(d.data.buffer, piece.buffer);
  assert.equal(d.data.byteOffset, 3);
});

Deno.test("parser: pipelined requests in one buffer", () => {
  const wire = b(
    "POST /1 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi" +
      "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /3 HTTP/1.1\r\n\r\n",
  );
  const parser = new RequestParser();
  const targets: string[] = [];
  let chunk: Uint8Array | null = wire;
  while (chunk) {
    const { events, remaining } = parser.feed(chunk);
    assert.equal(events.at(-1)?.type, "end");
    const head = events[0];
    assert.ok(head.type === "head");
    targets.push(head.head.target);
    assert.equal(parser.state, "done");
    chunk = remaining;
    parser.reset();
    assert.equal(parser.state, "idle");
  }
  assert.deepEqual(targets, ["/1", "/2", "/3"]);
  assert.deepEqual(parser.eof(), []);
});

Deno.test("parser: feed after the end returns the bytes unconsumed", () => {
  const parser = new RequestParser();
  parser.feed(b("GET / HTTP/1.1\r\n\r\n"));
  const more = b("GET /again HTTP/1.1\r\n\r\n");
  const r = parser.feed(more);
  assert.deepEqual(r.events, []);
  assert.equal(r.remaining, more);
  assert.equal(parser.state, "done");
});

Deno.test("parser: states", () => {
  const parser = new RequestParser();
  assert.equal(parser.state, "idle");
  parser.feed(b("\r\n"));
  assert.equal(parser.state, "idle", "empty lines before a request");
  assert.deepEqual(parser.eof(), []);
  parser.feed(b("PO"));
  assert.equal(parser.state, "head");
  parser.feed(b("ST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"));
  assert.equal(parser.state, "body");
  parser.feed(b("cde"));
  assert.equal(parser.state, "done");

  const rp = new ResponseParser();
  rp.expect("GET");
  rp.feed(b("HTTP/1.1 100 Continue\r\n\r\n"));
  assert.equal(rp.state, "head", "an interim response is part of the exchange");
  assert.throws(() => rp.eof(), { code: "truncated" });
});

Deno.test("parser: leading empty lines before a request-line", () => {
  const four = b("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  const { events } = new RequestParser().feed(four);
  assert.equal(events[0].type, "head");
  assert.throws(
    () =>
      new RequestParser().feed(b("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n")),
    { code: "invalid-start-line" },
  );
  const rp = new ResponseParser();
  assert.throws(() => rp.feed(b("\r\nHTTP/1.1 200 OK\r\n\r\n")), {
    code: "invalid-start-line",
  });
});

Deno.test("parser: keepAlive", () => {
  const ka = (wire: string, method?: string) => {
    const p = method === undefined ? new RequestParser() : new ResponseParser();
    if (p instanceof ResponseParser) p.expect(method!);
    const head = p.feed(b(wire)).events[0];
    assert.ok(head.type === "head");
    return head.keepAlive;
  };
  assert.equal(ka("GET / HTTP/1.1\r\n\r\n"), true);
  assert.equal(ka("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), false);
  assert.equal(
    ka("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n"),
    false,
  );
  assert.equal(
    ka("GET / HTTP/1.1\r\nConnection: x\r\nconnection: close\r\n\r\n"),
    false,
  );
  assert.equal(ka("GET / HTTP/1.0\r\n\r\n"), false);
  assert.equal(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), true);
  assert.equal(
    ka("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
    false,
  );
  assert.equal(ka("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET"), true);
  assert.equal(ka("HTTP/1.1 200 OK\r\n\r\n", "GET"), false, "close-delimited");
  assert.equal(
    ka("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "GET"),
    false,
  );
  assert.equal(
    ka(
      "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
      "GET",
    ),
    false,
    "HTTP/1.0 with Transfer-Encoding has faulty framing",
  );
});

Deno.test("parser: framing decisions", () => {
  const framing = (wire: string, method?: string) => {
    const p = method === undefined ? new RequestParser() : new ResponseParser();
    if (p instanceof ResponseParser) p.expect(method!);
    const head = p.feed(b(wire)).events[0];
    assert.ok(head.type === "head");
    return head.framing;
  };
  assert.deepEqual(framing("POST / HTTP/1.1\r\n\r\n"), { kind: "none" });
  assert.deepEqual(framing("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), {
    kind: "none",
  });
  assert.deepEqual(
    framing(
      "POST / HTTP/1.1\r\nContent-Length: 7, 7\r\nContent-Length: 007\r\n\r\n",
    ),
    { kind: "length", length: 7 },
  );
  assert.deepEqual(
    framing("POST / HTTP/1.1\r\nContent-Length: 9007199254740991\r\n\r\n"),
    { kind: "length", length: Number.MAX_SAFE_INTEGER },
  );
  assert.deepEqual(
    framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET"),
    { kind: "close" },
  );
  assert.deepEqual(
    framing(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET",
    ),
    { kind: "chunked" },
  );
  assert.deepEqual(
    framing("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET"),
    { kind: "none" },
  );
  assert.deepEqual(
    framing("HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT"),
    { kind: "none" },
  );
  assert.deepEqual(
    framing("HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n", "HEAD"),
    { kind: "none" },
    "a HEAD response's fields do not frame anything",
  );
});

Deno.test("parser: close-delimited body ends at eof", () => {
  const p = new ResponseParser();
  p.expect("GET");
  const r = p.feed(b("HTTP/1.1 200 OK\r\n\r\nabc"));
  assert.equal(r.events.length, 2);
  assert.equal(p.state, "body");
  assert.deepEqual(p.eof(), [{ type: "end" }]);
  assert.equal(p.state, "done");
  assert.deepEqual(p.eof(), []);
});

Deno.test("parser: 101 hands the rest of the bytes over", () => {
  const p = new ResponseParser();
  p.expect("GET");
  const { events, remaining } = p.feed(
    b("HTTP/1.1 101 Switching Protocols\r\nUpgrade: ptth\r\n\r\nGET / HTTP/1.1\r\n"),
  );
  assert.deepEqual(events.map((e) => e.type), ["head", "end"]);
  assert.equal(String.fromCharCode(...remaining!), "GET / HTTP/1.1\r\n");
});

Deno.test("parser: expect() resets and counts interim responses per exchange", () => {
  const p = new ResponseParser({ maxInformational: 1 });
  p.expect("POST");
  p.feed(
    b("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
  );
  assert.equal(p.state, "done");
  p.expect("POST");
  assert.equal(p.state, "idle");
  const r = p.feed(
    b("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
  );
  assert.equal(r.events.length, 2);
});

// ---- rejections: one test per error code (and per way to reach it) ----

function rejects(
  code: string,
  wire: string,
  opts: { response?: string; options?: ParserOptions; eof?: boolean } = {},
): void {
  for (const split of [false, true]) {
    const p: Parser = opts.response === undefined
      ? new RequestParser(opts.options)
      : new ResponseParser(opts.options);
    if (p instanceof ResponseParser) p.expect(opts.response!);
    const bytes = b(wire);
    const pieces = split
      ? Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))
      : [bytes];
    assert.throws(
      () => {
        for (const piece of pieces) p.feed(piece);
        if (opts.eof) p.eof();
      },
      (err: unknown) => {
        assert.ok(err instanceof Http1ParseError, String(err));
        assert.ok(err instanceof SyntaxError);
        assert.equal(err.code, code, `${JSON.stringify(wire)}: ${err.message}`);
        return true;
      },
      `${JSON.stringify(wire)} (${split ? "byte by byte" : "whole"})`,
    );
  }
}

Deno.test("reject: head-too-large, before the end of the head arrives", () => {
  const options = { maxHeadBytes: 64 };
  rejects("head-too-large", "GET / HTTP/1.1\r\nX: " + "a".repeat(100), {
    options,
  });
  rejects("head-too-large", "GET /" + "a".repeat(100), { options });
  rejects(
    "head-too-large",
    "GET / HTTP/1.1\r\nX: " + "a".repeat(60) + "\r\n\r\n",
    { options },
  );
  // Exactly at the limit is fine.
  const wire = "GET / HTTP/1.1\r\nX: " + "a".repeat(41) + "\r\n\r\n";
  assert.equal(wire.length, 64);
  assert.equal(new RequestParser(options).feed(b(wire)).events.length, 2);
  // The body after the head does not count, even in one chunk.
  const post = "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n";
  const r2 = new RequestParser(options).feed(b(post + "z".repeat(100)));
  assert.equal(r2.events.length, 3);
});

Deno.test("reject: too-many-fields", () => {
  const fields = "A: 1\r\n".repeat(4);
  rejects("too-many-fields", "GET / HTTP/1.1\r\n" + fields + "\r\n", {
    options: { maxFields: 3 },
  });
  const ok = new RequestParser({ maxFields: 4 }).feed(
    b("GET / HTTP/1.1\r\n" + fields + "\r\n"),
  );
  assert.equal(ok.events.length, 2);
});

Deno.test("reject: invalid-start-line", () => {
  for (
    const line of [
      "GET  / HTTP/1.1",
      "GET /  HTTP/1.1",
      " GET / HTTP/1.1",
      "GET / HTTP/1.1 ",
      "GET /",
      "GET / HTTP/2.0",
      "GET / HTTP/1.2",
      "GET / http/1.1",
      "GET / HTTP/1.10",
      "G(T / HTTP/1.1",
      "GET /\x7f HTTP/1.1",
      "GET /caf\xe9 HTTP/1.1",
      "GET\t/ HTTP/1.1",
    ]
  ) {
    rejects("invalid-start-line", line + "\r\n\r\n");
  }
  for (
    const line of [
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1 099 Low",
      "HTTP/1.1 600 High",
      "HTTP/1.1  200 OK",
      "HTTP/2 200 OK",
      "HTTP/1.1 2x0 OK",
      "HTTP/1.1 200 O\x01K",
      "ICY 200 OK",
    ]
  ) {
    rejects("invalid-start-line", line + "\r\n\r\n", { response: "GET" });
  }
});

Deno.test("reject: invalid-header", () => {
  const cases = [
    "Host : x", // whitespace before the colon (RFC 9112 §5.1)
    "Host\t: x",
    "Host x",
    ": x",
    "Ho(st: x",
    "Host: a\x00b",
    "Host: a\x01b",
    "Host: a\x7fb",
  ];
  for (const field of cases) {
    rejects("invalid-header", "GET / HTTP/1.1\r\n" + field + "\r\n\r\n");
    rejects("invalid-header", "HTTP/1.1 200 OK\r\n" + field + "\r\n\r\n", {
      response: "GET",
    });
  }
});

Deno.test("reject: invalid-header on a lone LF line ending", () => {
  rejects("invalid-header", "GET / HTTP/1.1\nHost: x\r\n\r\n");
  rejects("invalid-header", "GET / HTTP/1.1\r\nHost: x\n\r\n");
  rejects("invalid-header", "GET / HTTP/1.1\r\nHost: x\r\n\n");
  rejects("invalid-header", "\nGET / HTTP/1.1\r\n\r\n");
  rejects("invalid-header", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", {
    response: "GET",
  });
});

Deno.test("reject: bare-cr", () => {
  rejects("bare-cr", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n");
  rejects("bare-cr", "GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n");
  rejects("bare-cr", "GET / HTTP/1.1\rX\r\n\r\n");
  rejects("bare-cr", "GET /\r HTTP/1.1\r\n\r\n");
  rejects("bare-cr", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n");
  rejects("bare-cr", "\rGET / HTTP/1.1\r\n\r\n");
  rejects("bare-cr", "HTTP/1.1 200 O\rK\r\n\r\n", { response: "GET" });
});

Deno.test("reject: obs-fold", () => {
  rejects("obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n");
  rejects("obs-fold", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n");
  rejects("obs-fold", "GET / HTTP/1.1\r\n Host: a\r\n\r\n");
  rejects("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", {
    response: "GET",
  });
});

Deno.test("reject: conflicting-framing", () => {
  const both = "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
  rejects("conflicting-framing", "POST / HTTP/1.1\r\n" + both);
  rejects(
    "conflicting-framing",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
  );
  rejects("conflicting-framing", "HTTP/1.1 200 OK\r\n" + both, {
    response: "GET",
  });
});

Deno.test("reject: invalid-content-length", () => {
  for (
    const v of [
      "abc",
      "-1",
      "+5",
      "1.5",
      "0x10",
      "",
      "5 5",
      "5,",
      "9007199254740992",
      "99999999999999999999",
      "5, 6",
      "\xb9", // superscript one: not a DIGIT
    ]
  ) {
    rejects(
      "invalid-content-length",
      `POST / HTTP/1.1\r\nContent-Length: ${v}\r\n\r\n`,
    );
  }
  rejects(
    "invalid-content-length",
    "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
  );
  rejects(
    "invalid-content-length",
    "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    {
      response: "GET",
    },
  );
});

Deno.test("reject: unsupported-transfer-encoding", () => {
  for (
    const te of [
      "gzip",
      "chunked, gzip",
      "gzip, chunked",
      "chunked, chunked",
      "",
      "chunked;x=1",
    ]
  ) {
    rejects(
      "unsupported-transfer-encoding",
      `POST / HTTP/1.1\r\nTransfer-Encoding: ${te}\r\n\r\n`,
    );
  }
  rejects(
    "unsupported-transfer-encoding",
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
  );
  rejects(
    "unsupported-transfer-encoding",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n",
    { response: "GET" },
  );
});

Deno.test("reject: invalid-chunk in a message body", () => {
  const head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (
    const body of [
      "zz\r\n",
      "\r\n",
      ";ext\r\n",
      "-1\r\n",
      "0x5\r\n",
      "5\r\nhelloX\r\n",
      "5\r\nhello\n",
      "5\nhello\r\n",
      "5 5\r\nhello\r\n",
      "20000000000000\r\n",
      "00000000000000001\r\n",
    ]
  ) {
    rejects("invalid-chunk", head + body);
  }
  rejects("invalid-chunk", head + "5;" + "x".repeat(40) + "\r\n", {
    options: { maxChunkExtensionBytes: 32 },
  });
});

Deno.test("reject: trailers-too-large", () => {
  const wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" +
    "X: " + "y".repeat(100) + "\r\n\r\n";
  rejects("trailers-too-large", wire, {
    response: "GET",
    options: { maxTrailerBytes: 64 },
  });
});

Deno.test("reject: truncated", () => {
  rejects("truncated", "GET / HTTP/1.1\r\nHost:", { eof: true });
  rejects("truncated", "G", { eof: true });
  rejects("truncated", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", {
    eof: true,
  });
  rejects(
    "truncated",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    { eof: true },
  );
  rejects("truncated", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", {
    response: "GET",
    eof: true,
  });
  rejects("truncated", "HTTP/1.1 100 Continue\r\n\r\n", {
    response: "POST",
    eof: true,
  });
  rejects(
    "truncated",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    {
      response: "GET",
      eof: true,
    },
  );
});

Deno.test("reject: too-many-informational", () => {
  const interim = "HTTP/1.1 102 Processing\r\n\r\n".repeat(3);
  rejects("too-many-informational", interim, {
    response: "GET",
    options: { maxInformational: 2 },
  });
  const p = new ResponseParser({ maxInformational: 3 });
  const r = p.feed(b(interim + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  assert.deepEqual(r.events.map((e) => e.type), ["head", "end"]);
});

Deno.test("parser: options are checked", () => {
  assert.throws(() => new RequestParser({ maxHeadBytes: -1 }), RangeError);
  assert.throws(() => new ResponseParser({ maxFields: 1.5 }), RangeError);
  assert.throws(() => new RequestParser({ maxTrailerBytes: NaN }), RangeError);
});

Deno.test("parser: error messages name the problem and the value", () => {
  assert.throws(
    () => new RequestParser().feed(b("GET / HTTP/9.9\r\n\r\n")),
    { message: "Cannot parse request line: current value is 'GET / HTTP/9.9'" },
  );
  assert.throws(
    () =>
      new RequestParser().feed(
        b("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
      ),
    { message: "Cannot parse chunk size: current value is 'zz'" },
  );
});

Deno.test("parser: framing field names in any letter case", () => {
  const p = new RequestParser();
  const head = p.feed(
    b("POST / HTTP/1.1\r\nCONTENT-LENGTH: 2\r\nCONNECTION: CLOSE\r\n\r\nok"),
  )
    .events[0];
  assert.ok(head.type === "head");
  assert.deepEqual(head.framing, { kind: "length", length: 2 });
  assert.equal(head.keepAlive, false);
  const q = new RequestParser();
  const te = q.feed(b("POST / HTTP/1.1\r\ntRaNsFeR-eNcOdInG: CHUNKED\r\n\r\n"))
    .events[0];
  assert.ok(te.type === "head");
  assert.deepEqual(te.framing, { kind: "chunked" });
});

Deno.test("parser: a long head fed byte by byte stays linear and is capped exactly", () => {
  const max = 60000;
  const wire = b("GET / HTTP/1.1\r\nX: " + "v".repeat(max - 23) + "\r\n\r\n");
  assert.equal(wire.length, max);
  const p = new RequestParser({ maxHeadBytes: max });
  const t0 = performance.now();
  let events: ParseEvent<RequestHead>[] = [];
  for (let i = 0; i < wire.length; i++) {
    events = p.feed(wire.subarray(i, i + 1)).events;
  }
  assert.ok(performance.now() - t0 < 5000, "not quadratic");
  assert.deepEqual(events.map((e) => e.type), ["head", "end"]);

  const q = new RequestParser({ maxHeadBytes: max });
  const over = b("GET / HTTP/1.1\r\nX: " + "v".repeat(max));
  let fed = 0;
  assert.throws(() => {
    for (; fed < over.length; fed++) q.feed(over.subarray(fed, fed + 1));
  }, { code: "head-too-large" });
  assert.equal(fed, max, "thrown on the first byte past the limit");
});
