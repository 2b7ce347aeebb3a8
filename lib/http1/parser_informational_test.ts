import assert from "node:assert/strict";
import { ResponseParser } from "./parser.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("ResponseParser counts interim responses until the next expect()", () => {
  const p = new ResponseParser();
  p.expect("POST");
  assert.equal(p.informational, 0);
  let r = p.feed(enc("HTTP/1.1 100 Continue\r\n\r\n"));
  assert.deepEqual(r.events, []);
  assert.equal(p.informational, 1);
  r = p.feed(enc("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
  assert.equal(r.events[0].type, "head");
  assert.equal(p.informational, 1);
  p.expect("GET");
  assert.equal(p.informational, 0);
});

Deno.test("ResponseParser: a final response with no interim one leaves the count at zero", () => {
  const p = new ResponseParser();
  p.expect("POST");
  const r = p.feed(
    enc(
      "HTTP/1.1 503 Service Unavailable\r\npothead-declined: busy\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ),
  );
  assert.equal(r.events.length, 2);
  assert.equal(p.informational, 0);
});
