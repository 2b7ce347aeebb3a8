/**
 * Fault injection (issue 5, item 5): a TCP proxy between the hub and its
 * workers delays, truncates, stalls and resets connections at random byte
 * offsets (handshake, request, response head, body, idle). Under mixed load:
 * every consumer request ends with exactly one outcome — the worker's
 * response (verified) or an error from DESIGN.md's table, or a body cut off
 * after its head — within its bound; no request runs twice unless the
 * re-dispatch rule allowed it; the hub's memory stays bounded and it keeps
 * no connection it lost.
 */

import assert from "node:assert/strict";
import { type Fault, FaultProxy } from "./fault_proxy.ts";
import { scrape } from "./metrics_text.ts";
import {
  nextRequest,
  type Outcome,
  pool,
  redispatchBreaches,
  rng,
  rssOf,
  runsById,
  send,
  tally,
} from "./mixed_load.ts";
import { type Proc, spawnDeno, startHub, until } from "./processes.ts";

const APP = "tests/fixtures/recording_app.ts";
const SEED = Number(Deno.env.get("POTHEAD_FAULT_SEED") ?? 5);

function faultFor(random: () => number): Fault {
  // Most connections meet a fault sooner or later, at any byte: in the
  // handshake, a request, a response head or body, or while idle.
  const r = random();
  const after = Math.floor(random() * random() * 150_000);
  // Responses carry most bytes: most faults fire on the worker's side.
  const direction = random() < 0.65 ? "to-server" : "to-client";
  if (r < 0.1) return { kind: "pass" };
  if (r < 0.2) return { kind: "delay", ms: 1 + Math.floor(random() * 20) };
  if (r < 0.45) return { kind: "truncate", after, direction };
  if (r < 0.7) return { kind: "stall", after, direction };
  return { kind: "reset", after, direction };
}

Deno.test("fault injection: one outcome per request, within bounds; re-dispatch rule holds; hub stays bounded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pothead-faults-" });
  const records = [`${dir}/ran-0`, `${dir}/ran-1`];
  const workers: Proc[] = [];
  try {
    await using hub = await startHub([
      "--response-timeout",
      "3s",
      "--queue-timeout",
      "10s",
      "--body-idle-timeout",
      "1s",
    ]);
    const random = rng(SEED);
    await using proxy = await FaultProxy.start(
      hub.workerAddr,
      () => faultFor(random),
    );
    for (const record of records) {
      workers.push(spawnDeno("worker.ts", [
        "--log-format",
        "json",
        "--connect",
        proxy.addr,
        "--workers",
        "3",
        APP,
      ], { POTHEAD_TEST_RECORD: record }));
    }
    const workerCount = () =>
      scrape(hub.metricsUrl, "pothead_hub_workers", { pool: "default" });
    await until(async () => await workerCount() >= 2, "workers joined", 20_000);

    const rssBefore = rssOf(hub.child.pid);
    const outcomes: Outcome[] = [];
    const loadRandom = rng(SEED + 1);
    let n = 0;
    const total = 500;
    // queue-timeout + two response timeouts (a re-dispatch) + the body
    // stalls the body idle timeout bounds, and slack for a busy machine.
    const boundMs = 10_000 + 2 * 3_000 + 5_000 + 10_000;
    await pool(
      12,
      () => (n < total ? nextRequest("fault", n++, loadRandom) : null),
      async (spec) => {
        outcomes.push(await send(hub.url, spec, boundMs));
      },
    );
    const rssAfter = rssOf(hub.child.pid);

    // Heal: reset every faulty connection, let the workers dial again.
    proxy.policy = () => ({ kind: "pass" });
    proxy.resetAll();
    await until(
      async () =>
        await scrape(hub.metricsUrl, "pothead_hub_workers", {
          pool: "default",
          state: "idle",
        }) === 6,
      "all six slots back and idle",
      30_000,
    );
    const after: Outcome[] = [];
    let m = 0;
    await pool(
      6,
      () => (m < 24 ? nextRequest("healed", m++, loadRandom) : null),
      async (spec) => {
        after.push(await send(hub.url, spec, boundMs));
      },
    );

    const t = tally(outcomes);
    const summary = JSON.stringify({
      faults: proxy.counts,
      fired: proxy.fired,
      byKind: t.byKind,
      rss: [rssBefore, rssAfter],
    });
    if (Deno.env.get("POTHEAD_TEST_VERBOSE")) console.error(summary);
    // The faults did fire, and the mix saw both success and failure.
    const { truncate, stall, reset } = proxy.fired;
    assert.ok(truncate > 0 && stall > 0 && reset > 0, summary);
    assert.ok(truncate + stall + reset >= 8, summary);
    assert.ok((t.byKind.ok ?? 0) > total / 4, summary);

    // Exactly one outcome each, and none outside the contract.
    assert.deepEqual(
      t.violations.map((o) => `${o.spec.id} ${o.kind} ${o.status} ${o.error}`),
      [],
      summary,
    );
    assert.equal(outcomes.length, total);
    const logged = new Map<string, number>();
    for (const line of hub.lines) {
      const m = /"msg":"request","id":"([^"]+)"/.exec(line);
      if (m) logged.set(m[1], (logged.get(m[1]) ?? 0) + 1);
    }
    for (const o of outcomes) {
      assert.equal(
        logged.get(o.spec.id),
        1,
        `${o.spec.id}: one access log line`,
      );
    }

    // Nothing ran twice unless the re-dispatch rule allowed it.
    const redispatched = new Set<string>();
    for (const line of hub.lines) {
      const m = /"msg":"request redispatched","id":"([^"]+)"/.exec(line);
      if (m) redispatched.add(m[1]);
    }
    assert.deepEqual(
      redispatchBreaches(outcomes, runsById(records), redispatched),
      [],
    );

    // Healed: everything succeeds again.
    assert.deepEqual(
      after.filter((o) => o.kind !== "ok").map((o) => `${o.spec.id} ${o.kind}`),
      [],
    );
    // No connection the hub lost is kept: exactly the six live ones.
    assert.equal(await workerCount(), 6);
    // Memory: bounded, whatever the faults left behind (generous: V8's heap
    // grows in steps; a leak of connections or bodies would be far more).
    if (rssBefore !== null && rssAfter !== null) {
      assert.ok(rssAfter < rssBefore + 150 * 1024 * 1024, summary);
    }
    assert.equal((await fetch(`${hub.metricsUrl}/healthz`)).status, 200);
  } finally {
    for (const w of workers) await w.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
