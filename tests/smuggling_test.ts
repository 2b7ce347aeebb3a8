/**
 * Consumer-side request smuggling through the hub (issue 5, item 4): raw
 * bytes to the consumer port with CL.TE, TE.CL, duplicate and obfuscated
 * framing fields, header names with spaces, requests hidden in bodies. The
 * hub re-frames every request it forwards, so none of them can desync the
 * worker connection: after each attempt, the next request on the same (only)
 * worker connection gets its own response, and no hidden request ever runs.
 */

import assert from "node:assert/strict";
import { scrape } from "./metrics_text.ts";
import { startHub, startWorker } from "./processes.ts";

const APP = "tests/fixtures/recording_app.ts";

/**
 * Sends raw bytes; returns what came back until the hub closes, or until it
 * has been quiet for a while after answering (the test closes first, so no
 * reset can discard an answer in flight).
 */
async function raw(url: string, text: string): Promise<string> {
  const u = new URL(url);
  const conn = await Deno.connect({
    hostname: u.hostname,
    port: Number(u.port),
  });
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  conn.write(bytes).catch(() => {});
  let out = "";
  const buf = new Uint8Array(16384);
  let timer = setTimeout(() => conn.close(), 5000);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      out += new TextDecoder().decode(buf.subarray(0, n));
      clearTimeout(timer);
      timer = setTimeout(() => conn.close(), 300);
    }
  } catch { /* closed by the timer: the hub kept the connection open */ }
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed */ }
  return out;
}

/** Status codes of every response in a raw answer, in order. */
function statuses(answer: string): number[] {
  return [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

const ATTACKS: { name: string; bytes: string }[] = [
  {
    name: "CL.TE",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  },
  {
    name: "TE.CL",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n${
        (SMUGGLED.length + 0).toString(16)
      }\r\n${SMUGGLED}\r\n0\r\n\r\n`,
  },
  {
    name: "duplicate Content-Length, differing",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
  },
  {
    name: "header name with a space before the colon",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length : ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
  },
  {
    name: "Transfer-Encoding with a space before the colon",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  },
  {
    name: "obfuscated Transfer-Encoding",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  },
  {
    name: "Transfer-Encoding twice",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  },
  {
    name: "HTTP/1.0 with Transfer-Encoding",
    bytes:
      `POST /echo HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  },
  {
    name: "obs-fold on Transfer-Encoding",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  },
  {
    name: "a request hidden in a GET body",
    bytes:
      `GET /get-with-body HTTP/1.1\r\nHost: a\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
  },
  {
    name: "a request as chunked body data, with extensions and trailers",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${
        SMUGGLED.length.toString(16)
      };ext=1\r\n${SMUGGLED}\r\n0\r\nX-Trailer: evil\r\n\r\n`,
  },
  {
    name: "a request as Content-Length body data, bare LF line ends",
    bytes:
      `POST /echo HTTP/1.1\nHost: a\nContent-Length: ${SMUGGLED.length}\n\n${SMUGGLED}`,
  },
  {
    name: "Content-Length '4, 4' with a body of 4",
    bytes: `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\nAAAA`,
  },
  {
    // Deno.serve takes this and removes only the chunked coding; a worker
    // would get gzip bytes with nothing saying so: the hub refuses it.
    name: "a transfer coding before chunked",
    bytes:
      `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${
        SMUGGLED.length.toString(16)
      }\r\n${SMUGGLED}\r\n0\r\n\r\n`,
  },
  {
    name: "an unknown transfer coding before chunked",
    bytes:
      `POST /coded HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x-evil,chunked\r\n\r\n4\r\nAAAA\r\n0\r\n\r\n`,
  },
  {
    name: "NUL and CR in a field value",
    bytes:
      `GET /x HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\nX-B: a\rContent-Length: 40\r\n\r\n${SMUGGLED}`,
  },
];

Deno.test("smuggling: no attempt desyncs the worker connection or runs a hidden request", async () => {
  const dir = await Deno.makeTempDir();
  const record = `${dir}/ran`;
  try {
    await using hub = await startHub();
    // One slot: every request goes over the same worker connection.
    await using worker = await startWorker(hub.workerAddr, [APP], 1, {
      POTHEAD_TEST_RECORD: record,
    });

    const inSync = async (tag: string) => {
      const id = `after-${tag.replace(/\W+/g, "-")}-${crypto.randomUUID()}`;
      const res = await fetch(`${hub.url}/after`, {
        headers: { "x-request-id": id },
      });
      assert.equal(res.status, 200, tag);
      const body = await res.json();
      assert.equal(
        body.id,
        id,
        `${tag}: the next request got its own response`,
      );
      assert.equal(body.path, "/after");
    };

    for (const attack of ATTACKS) {
      const answer = await raw(hub.url, attack.bytes);
      const codes = statuses(answer);
      assert.ok(codes.length >= 1, `${attack.name}: an answer`);
      assert.ok(
        codes.every((c) => c === 200 || c === 400 || c === 501),
        `${attack.name}: ${codes}`,
      );
      // Whatever was accepted was echoed as a body, not run as a request.
      if (codes[0] === 200 && attack.bytes.startsWith("POST /echo")) {
        const echoed = answer.slice(answer.indexOf("\r\n\r\n") + 4);
        assert.ok(
          echoed === "" || echoed.includes("GET /smuggled") ||
            echoed.startsWith("AAAA"),
          `${attack.name}: ${JSON.stringify(echoed.slice(0, 80))}`,
        );
      }
      await inSync(attack.name);
    }

    const ran = await Deno.readTextFile(record);
    assert.ok(!ran.includes("/smuggled"), ran);
    assert.ok(ran.includes("/after"));
    assert.ok(!ran.includes("/coded"), "a coded body never reaches the app");
    // The one worker connection served everything: never dropped.
    assert.equal(
      await scrape(hub.metricsUrl, "pothead_hub_worker_connections_total", {
        result: "accepted",
      }),
      1,
    );
    assert.ok(!worker.lines.some((l) => l.includes("hub connection closed")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
