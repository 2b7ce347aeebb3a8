import assert from "node:assert/strict";
import { parseWrk } from "./wrk.ts";

const SAMPLE = `Running 10s test @ http://127.0.0.1:8080/hello
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.02ms  20.11ms   80.00%
    Req/Sec     2.60k   150.00     2.90k    70.00%
  Latency Distribution
     50%  850.00us
     75%    1.30ms
     90%    2.10ms
     99%    1.20s
  51860 requests in 10.00s, 5.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   5186.12
Transfer/sec:    512.00KB
`;

Deno.test("parseWrk reads rate, percentiles in any unit, and errors", () => {
  const r = parseWrk(SAMPLE);
  assert.equal(r.rps, 5186.12);
  assert.equal(r.p50Ms, 0.85);
  assert.equal(r.p75Ms, 1.3);
  assert.equal(r.p99Ms, 1200);
  assert.equal(r.requests, 51860);
  assert.equal(r.errors, 7);
});
