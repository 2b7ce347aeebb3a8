import { RequestParser, ResponseParser } from "./parser.ts";
import { serializeRequestHead, serializeResponseHead } from "./head.ts";
import { ChunkedDecoder } from "./chunked.ts";

const enc = new TextEncoder();
const requestHeaders: [string, string][] = [
  ["Host", "example.com"],
  [
    "User-Agent",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
  ],
  ["Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
  ["Accept-Language", "en-US,en;q=0.5"],
  ["Accept-Encoding", "gzip, deflate, br"],
  ["Connection", "keep-alive"],
  ["Cookie", "session=0123456789abcdef; theme=dark; lang=en"],
  ["X-Request-Id", "6f1c2a0e-5b7d-4c1e-9f3a-2d8b7e6c5a4f"],
];
const request = serializeRequestHead({
  method: "GET",
  target: "/api/v1/items?page=2",
  headers: requestHeaders,
});
const wrkRequest = enc.encode("GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n");
const response = enc.encode(
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\nDate: Tue, 25 Nov 2025 18:00:00 GMT\r\n\r\n{"ok":true}\r\n',
);
const chunkedBody = enc.encode(
  "1000\r\n" + "x".repeat(4096) + "\r\n".repeat(1) + "0\r\n\r\n",
);

const rp = new RequestParser();
Deno.bench("parse request head (8 fields, one chunk)", () => {
  rp.reset();
  rp.feed(request);
});
Deno.bench("parse wrk request (1 field)", () => {
  rp.reset();
  rp.feed(wrkRequest);
});
const half = request.length >> 1;
const a = request.subarray(0, half);
const bb = request.subarray(half);
Deno.bench("parse request head split in two", () => {
  rp.reset();
  rp.feed(a);
  rp.feed(bb);
});
const sp = new ResponseParser();
Deno.bench("parse response with CL body", () => {
  sp.expect("GET");
  sp.feed(response);
});
const cd = new ChunkedDecoder();
const out: Uint8Array[] = [];
Deno.bench("decode 4 KiB chunked body", () => {
  cd.reset();
  cd.decode(chunkedBody, 0, out);
  out.length = 0;
});
Deno.bench("serialize request head (8 fields)", () => {
  serializeRequestHead({
    method: "GET",
    target: "/api/v1/items?page=2",
    headers: requestHeaders,
  });
});
const responseHeaders: [string, string][] = [
  ["Content-Type", "application/json"],
  ["Content-Length", "13"],
  ["X-Request-Id", "6f1c2a0e-5b7d-4c1e-9f3a-2d8b7e6c5a4f"],
];
Deno.bench("serialize response head (3 fields)", () => {
  serializeResponseHead({ status: 200, headers: responseHeaders });
});
