/**
 * A worker that speaks raw, hostile bytes after a correct PTTH handshake
 * (issue 5, item 4): response splitting, Content-Length with
 * Transfer-Encoding, huge heads, endless chunks, a slowloris head, bytes
 * while idle, 101 and 1xx storms. Each time the consumer gets 502/504 (or
 * an aborted body), the hostile connection is dropped, the hub stays
 * healthy, and the consumers of an honest worker running meanwhile get
 * exactly their own responses.
 */

import assert from "node:assert/strict";
import { FakeWorker } from "./fake_worker.ts";
import { startInprocHub } from "./inproc_hub.ts";
import { startWorker } from "./processes.ts";

const APP = "tests/fixtures/recording_app.ts";

Deno.test("hostile worker: the consumer gets 502, the hub drops it, nobody else is touched", async (t) => {
  await using h = await startInprocHub({ bodyIdleTimeoutMs: 1000 }, {
    responseTimeoutMs: 1500,
  });
  await using honest = await startWorker(h.workerAddr, [
    "--workers",
    "2",
    APP,
  ], 2);

  /** Honest consumers, run while a hostile exchange goes on. */
  const honestRound = (tag: string) =>
    Promise.all(Array.from({ length: 6 }, async (_, i) => {
      const id = `${tag}-${i}-${crypto.randomUUID()}`;
      const res = await fetch(`${h.url}/honest/${tag}/${i}`, {
        headers: { "x-request-id": id },
      });
      assert.equal(res.status, 200, `honest ${tag}/${i}`);
      const body = await res.json();
      assert.equal(body.id, id, "an honest consumer got its own response");
      assert.equal(body.path, `/honest/${tag}/${i}`);
    }));

  /**
   * Runs one hostile exchange: a consumer asks the hostile pool, the fake
   * worker reads the request and runs `misbehave`; honest traffic runs
   * meanwhile. Returns the consumer's response (body read as text, or the
   * error that ended it).
   */
  const hostile = async (
    name: string,
    misbehave: (fake: FakeWorker) => Promise<void>,
  ) => {
    await using fake = await FakeWorker.connect(h.workerAddr, {
      pool: "hostile",
      name: `hostile/${name}`,
    });
    const consumer = (async () => {
      const res = await fetch(`${h.url}/hostile/${name}`);
      const text = await res.text().then(
        (s) => s,
        (err) => `ABORTED: ${err}`,
      );
      return {
        status: res.status,
        error: res.headers.get("pothead-error"),
        text,
      };
    })();
    const req = await fake.nextRequest();
    assert.ok(req, "the hub dispatched to the hostile worker");
    assert.equal(req.head.target, `/hostile/${name}`);
    const [out] = await Promise.all([
      consumer,
      honestRound(name),
      misbehave(fake),
    ]);
    assert.ok(
      await fake.waitHubClose(5000),
      `${name}: the hub closes the hostile connection`,
    );
    return out;
  };

  const expect502 = (out: { status: number; error: string | null }) => {
    assert.equal(out.status, 502);
    assert.equal(out.error, "worker-failed");
  };

  await t.step(
    "response splitting: a second response in the same write",
    async () => {
      const out = await hostile("split", async (f) => {
        await f.send(
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst" +
            "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled",
        );
      });
      assert.equal(out.status, 200);
      assert.equal(out.text, "first");
    },
  );

  await t.step("response splitting: a second response while idle", async () => {
    const out = await hostile("idle-bytes", async (f) => {
      await f.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      // Wait until the consumer has its answer, then talk out of turn.
      await new Promise((r) => setTimeout(r, 100));
      await f.send("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled");
    });
    assert.equal(out.status, 200);
    assert.equal(out.text, "ok");
    assert.ok(
      h.logs.some((l) =>
        l.msg === "worker disconnected" && l.worker === "hostile/idle-bytes" &&
        /idle/.test(String(l.reason))
      ),
    );
  });

  await t.step("Content-Length together with Transfer-Encoding", async () => {
    expect502(
      await hostile("cl-te", async (f) => {
        await f.send(
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled",
        );
      }),
    );
  });

  await t.step("differing duplicate Content-Length", async () => {
    expect502(
      await hostile("dup-cl", async (f) => {
        await f.send(
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 8\r\n\r\nfirstabc",
        );
      }),
    );
  });

  await t.step("header injection with a bare CR", async () => {
    expect502(
      await hostile("bare-cr", async (f) => {
        await f.send(
          "HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n",
        );
      }),
    );
  });

  await t.step("a huge head", async () => {
    expect502(
      await hostile("huge-head", async (f) => {
        await f.send(
          `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(200_000)}\r\n\r\n`,
        );
      }),
    );
  });

  await t.step("too many fields", async () => {
    expect502(
      await hostile("many-fields", async (f) => {
        await f.send(`HTTP/1.1 200 OK\r\n${"X-F: v\r\n".repeat(500)}\r\n`);
      }),
    );
  });

  await t.step("a 1xx storm", async () => {
    expect502(
      await hostile("1xx-storm", async (f) => {
        for (let i = 0; i < 40; i++) {
          if (!await f.send("HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n")) {
            return;
          }
        }
        await f.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
      }),
    );
  });

  await t.step("101 Switching Protocols", async () => {
    expect502(
      await hostile("101", async (f) => {
        await f.send(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: Upgrade\r\n\r\nwhatever follows",
        );
      }),
    );
  });

  await t.step("a status line that is not HTTP/1.x", async () => {
    expect502(
      await hostile("bad-status", async (f) => {
        await f.send("HTTP/2.0 999 Nope\r\nContent-Length: 0\r\n\r\n");
      }),
    );
  });

  await t.step("chunk size overflow", async () => {
    const out = await hostile("chunk-overflow", async (f) => {
      await f.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      await new Promise((r) => setTimeout(r, 50));
      await f.send("fffffffffffffffffffff\r\nabc");
    });
    // The head may already be on its way: then the body is cut off.
    if (out.status === 200) assert.match(out.text, /^ABORTED/);
    else expect502(out);
  });

  await t.step("a slowloris head: 504 response-timeout", async () => {
    const out = await hostile("slowloris", async (f) => {
      if (!await f.send("HTTP/1.1 200 OK\r\nX-Slow: ")) return;
      // One byte at a time, until the hub gives up (bounded).
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (!await f.send("a")) return;
      }
    });
    assert.equal(out.status, 504);
    assert.equal(out.error, "response-timeout");
  });

  await t.step(
    "a body cut short: the consumer sees the body abort",
    async () => {
      const out = await hostile("short-body", async (f) => {
        await f.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
        await new Promise((r) => setTimeout(r, 50));
        f.close();
      });
      assert.equal(out.status, 200);
      assert.match(out.text, /^ABORTED/);
    },
  );

  await t.step(
    "a stalled body: cut off after the body idle timeout",
    async () => {
      const out = await hostile("stalled-body", async (f) => {
        await f.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome");
        await f.waitHubClose(10_000);
      });
      assert.equal(out.status, 200);
      assert.match(out.text, /^ABORTED/);
      assert.ok(
        h.logs.some((l) =>
          l.msg === "worker disconnected" &&
          l.worker === "hostile/stalled-body" && /idle/.test(String(l.reason))
        ),
      );
    },
  );

  await t.step(
    "a crash in the middle of the head: no re-dispatch, no leak",
    async () => {
      expect502(
        await hostile("crash-mid-head", async (f) => {
          await f.send("HTTP/1.1 200 OK\r\nContent-Le");
          await new Promise((r) => setTimeout(r, 50));
          f.close();
        }),
      );
      // The hub forgets the connection when the worker closes it, not when
      // the response deadline passes.
      const gone = h.logs.find((l) =>
        l.msg === "worker disconnected" && l.worker === "hostile/crash-mid-head"
      );
      assert.ok(gone, "disconnect logged");
      assert.notEqual(gone.reason, "response-timeout");
    },
  );

  await t.step(
    "a worker that dies while the request body streams: 502, not the consumer's fault",
    async () => {
      await using fake = await FakeWorker.connect(h.workerAddr, {
        pool: "hostile",
        name: "hostile/dies-in-upload",
      });
      // 160 KiB in 16 KiB pieces, beyond the replay buffer: no re-dispatch.
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (sent >= 10) return c.close();
          sent++;
          await new Promise((r) => setTimeout(r, 10));
          c.enqueue(new Uint8Array(16 * 1024).fill(0x62));
        },
      });
      const resP = fetch(`${h.url}/hostile/upload`, { method: "POST", body });
      // Take 100 KiB of it, then die.
      let got = 0;
      const buf = new Uint8Array(65536);
      while (got < 100 * 1024) {
        const n = await fake.conn.read(buf);
        if (n === null) break;
        got += n;
      }
      fake.close();
      const res = await resP;
      await res.body?.cancel();
      assert.equal(res.status, 502);
      assert.equal(res.headers.get("pothead-error"), "worker-failed");
    },
  );

  await t.step(
    "an endless chunk: backpressure, then the consumer leaves",
    async () => {
      await using fake = await FakeWorker.connect(h.workerAddr, {
        pool: "hostile",
        name: "hostile/endless",
      });
      const abort = new AbortController();
      const resP = fetch(`${h.url}/hostile/endless`, { signal: abort.signal });
      assert.ok(await fake.nextRequest());
      await fake.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      await fake.send("7fffffffffff\r\n");
      let written = 0;
      const block = new Uint8Array(64 * 1024).fill(0x7a);
      const writer = (async () => {
        while (written < 256 * 1024 * 1024 && await fake.send(block)) {
          written += block.length;
        }
      })();
      const res = await resP;
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      let got = 0;
      while (got < 1024 * 1024) {
        const { value, done } = await reader.read();
        if (done) break;
        got += value.length;
      }
      // The consumer stops reading: the worker's writes stall (backpressure),
      // far below what it tries to send.
      await honestRound("endless");
      await new Promise((r) => setTimeout(r, 500));
      const stalledAt = written;
      assert.ok(stalledAt < 64 * 1024 * 1024, `wrote ${stalledAt} bytes`);
      await reader.cancel();
      abort.abort();
      assert.ok(await fake.waitHubClose(5000), "the hub closes the worker");
      await writer;
    },
  );

  await t.step(
    "the hub is healthy and the honest worker kept its connections",
    async () => {
      assert.equal((await fetch(`${h.metricsUrl}/healthz`)).status, 200);
      await honestRound("after");
      assert.equal(
        await h.metric("pothead_hub_workers", { pool: "default" }),
        2,
      );
      assert.equal(
        await h.metric("pothead_hub_workers", { pool: "hostile" }),
        0,
        "every hostile connection is gone",
      );
      assert.ok(
        !h.logs.some((l) =>
          l.msg === "worker disconnected" &&
          !String(l.worker).startsWith("hostile/")
        ),
        "no honest connection was dropped",
      );
      assert.ok(!honest.lines.some((l) => l.includes("smuggled")));
      // Each way of failing is counted under its own reason.
      const dropped = (reason: string) =>
        h.metric("pothead_hub_worker_disconnects_total", {
          pool: "hostile",
          reason,
        });
      assert.ok(await dropped("protocol-error") >= 9);
      assert.equal(await dropped("response-timeout"), 1);
      assert.equal(await dropped("body-idle-timeout"), 1);
      assert.equal(await dropped("bytes-while-idle"), 1);
      assert.ok(await dropped("worker-closed") >= 3);
      assert.equal(await dropped("consumer-gone"), 1);
      assert.equal(
        await h.metric("pothead_hub_rejected_total", {
          pool: "hostile",
          reason: "response-timeout",
        }),
        1,
      );
    },
  );
});
