import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { ConfigError, type HubConfig, parseConfig } from "../config/config.ts";
import { Logger } from "../log/logger.ts";
import { HubError } from "./errors.ts";
import { Pool } from "./pool.ts";
import { ConfigReloader } from "./reload.ts";
import { Router } from "./router.ts";

const DEFAULTS = {
  maxQueue: 1000,
  queueTimeoutMs: 30_000,
  responseTimeoutMs: 300_000,
};

function setup(text: string, load?: () => Promise<HubConfig>) {
  const clock = new ManualClock();
  const config = parseConfig(text, DEFAULTS, "pothead.jsonc");
  const pools = new Map<string, Pool>();
  for (const s of config.pools.values()) pools.set(s.name, new Pool(s, clock));
  const routing = { router: new Router(config) };
  const lines: Record<string, unknown>[] = [];
  let applied = 0;
  const reloader = new ConfigReloader({
    pools,
    routing,
    config,
    createPool: (s) => new Pool(s, clock),
    load: load ?? null,
    log: new Logger({
      format: "json",
      sink: (l) => lines.push(JSON.parse(l)),
    }),
    onApplied: () => applied++,
  });
  return {
    clock,
    pools,
    routing,
    lines,
    reloader,
    applied: () => applied,
    [Symbol.dispose]() {
      for (const p of pools.values()) p.queue.drain();
    },
  };
}

Deno.test("apply: routes, settings and limits change; the pool object stays", () => {
  using h = setup(`{
    "pools": { "a": { "maxQueue": 10 }, "b": {} },
    "routes": [{ "host": "a.example", "pool": "a" }],
    "defaultPool": "b",
  }`);
  const a = h.pools.get("a")!;
  const waiting = a.acquire({ fairnessKey: "t" });
  assert.equal(a.queue.length, 1);

  const summary = h.reloader.apply(parseConfig(
    `{
      "pools": { "a": { "maxQueue": 3, "queueTimeout": "5s" }, "b": {} },
      "routes": [{ "host": "B.example", "pool": "a" }],
      "defaultPool": "b",
    }`,
    DEFAULTS,
  ));
  assert.deepEqual(summary, {
    added: [],
    removed: [],
    changed: ["a"],
    routes: 1,
    defaultPool: "b",
  });
  assert.equal(h.pools.get("a"), a, "the same pool, queue and all");
  assert.equal(a.queue.length, 1);
  assert.equal(a.queue.maxLength, 3);
  assert.equal(a.settings.queueTimeoutMs, 5_000);
  assert.equal(h.routing.router.match("b.example", "/")?.pool, "a");
  assert.equal(h.routing.router.match("a.example", "/")?.pool, "b");
  assert.equal(h.applied(), 1);

  // The waiting request keeps the deadline it had (30 s, not 5 s).
  h.clock.advance(5_000);
  assert.equal(a.queue.length, 1);
  h.clock.advance(25_000);
  assert.equal(a.queue.length, 0);
  return waiting.then(
    () => assert.fail("resolved"),
    (err) => assert.equal((err as HubError).code, "queue-timeout"),
  );
});

Deno.test("apply: a removed pool is retired until its queue is served, then closed", async () => {
  using h = setup(
    `{ "pools": { "a": {}, "gone": {} }, "defaultPool": "gone" }`,
  );
  const gone = h.pools.get("gone")!;
  const waiting = gone.acquire().catch((e: unknown) => e);

  const summary = h.reloader.apply(
    parseConfig(
      `{ "pools": { "a": {}, "new": {} }, "defaultPool": "new" }`,
      DEFAULTS,
    ),
  );
  assert.deepEqual(summary.added, ["new"]);
  assert.deepEqual(summary.removed, ["gone"]);
  assert.equal(gone.retired, true);
  assert.equal(h.pools.get("gone"), gone, "kept while a request waits");
  assert.equal(h.routing.router.match("x", "/")?.pool, "new");
  assert.equal(h.reloader.legacyPool(), h.pools.get("new"));
  assert.ok(h.lines.some((l) => l.msg === "pool retired" && l.pool === "gone"));

  h.reloader.sweep();
  assert.ok(h.pools.has("gone"));
  h.clock.advance(30_000); // its request times out as it would have
  assert.equal((await waiting as HubError).code, "queue-timeout");
  h.reloader.sweep();
  assert.equal(h.pools.has("gone"), false);
  assert.equal(h.clock.pending, 0, "no timer left behind");
  assert.ok(h.lines.some((l) => l.msg === "pool closed" && l.pool === "gone"));
});

Deno.test("apply: a retired pool added back before it closed is revived", () => {
  using h = setup(`{ "pools": { "a": {}, "b": {} }, "defaultPool": "a" }`);
  const b = h.pools.get("b")!;
  const waiting = b.acquire().then(() => {}, () => {});
  h.reloader.apply(
    parseConfig(`{ "pools": { "a": {} }, "defaultPool": "a" }`, DEFAULTS),
  );
  assert.equal(b.retired, true);
  const summary = h.reloader.apply(parseConfig(
    `{ "pools": { "a": {}, "b": { "maxQueue": 7 } }, "defaultPool": "a" }`,
    DEFAULTS,
  ));
  assert.deepEqual(summary.added, ["b"]);
  assert.equal(h.pools.get("b"), b);
  assert.equal(b.retired, false);
  assert.equal(b.queue.maxLength, 7);
  assert.equal(b.queue.length, 1);
  b.failWaiting(new HubError("draining", "test over"));
  return waiting;
});

Deno.test("reload: an invalid file changes nothing and is logged with its line", async () => {
  const bad = new ConfigError(
    "pothead.jsonc",
    4,
    17,
    "route 1: pool 'vidoe' is not defined in pools",
  );
  using h = setup(
    `{ "pools": { "a": {} }, "defaultPool": "a" }`,
    () => Promise.reject(bad),
  );
  const router = h.routing.router;
  const a = h.pools.get("a")!;
  const outcome = await h.reloader.reload();
  assert.equal(outcome.ok, false);
  assert.equal(h.routing.router, router);
  assert.deepEqual([...h.pools.keys()], ["a"]);
  assert.equal(h.pools.get("a"), a);
  assert.equal(h.applied(), 0);
  const line = h.lines.find((l) => l.msg === "config reload refused");
  assert.ok(line);
  assert.equal(line.level, "error");
  assert.equal(line.file, "pothead.jsonc");
  assert.equal(line.line, 4);
  assert.equal(line.reason, "route 1: pool 'vidoe' is not defined in pools");
});

Deno.test("reload: calls run one at a time, in order", async () => {
  const texts = [
    `{ "pools": { "one": {} }, "defaultPool": "one" }`,
    `{ "pools": { "two": {} }, "defaultPool": "two" }`,
  ];
  let i = 0;
  using h = setup(
    `{ "pools": { "a": {} }, "defaultPool": "a" }`,
    async () => {
      const text = texts[i++];
      await new Promise((r) => setTimeout(r, 0));
      return parseConfig(text, DEFAULTS);
    },
  );
  const [first, second] = await Promise.all([
    h.reloader.reload(),
    h.reloader.reload(),
  ]);
  assert.ok(first.ok && second.ok);
  assert.deepEqual(first.summary.added, ["one"]);
  assert.deepEqual(second.summary.added, ["two"]);
  assert.deepEqual([...h.pools.keys()], ["two"]);
});

Deno.test("handle: POST reloads; other methods, no file and bad files are refused", async () => {
  let text = `{ "pools": { "b": {} }, "defaultPool": "b" }`;
  using h = setup(
    `{ "pools": { "a": {} }, "defaultPool": "a" }`,
    () => Promise.resolve().then(() => parseConfig(text, DEFAULTS, "f.jsonc")),
  );
  const url = "http://metrics/-/reload";
  const get = await h.reloader.handle(new Request(url));
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  await get.body?.cancel();

  const ok = await h.reloader.handle(new Request(url, { method: "POST" }));
  assert.equal(ok.status, 200);
  const body = await ok.json();
  assert.equal(body.ok, true);
  assert.deepEqual(body.added, ["b"]);
  assert.deepEqual(body.removed, ["a"]);

  text = `{ "pools": { "b": { "maxQueue": 0 } }, "defaultPool": "b" }`;
  const bad = await h.reloader.handle(new Request(url, { method: "POST" }));
  assert.equal(bad.status, 422);
  assert.match((await bad.json()).error, /^f\.jsonc:1:\d+: pool 'b': maxQueue/);

  using none = setup(`{ "pools": { "a": {} }, "defaultPool": "a" }`);
  const conflict = await none.reloader.handle(
    new Request(url, { method: "POST" }),
  );
  assert.equal(conflict.status, 409);
  await conflict.body?.cancel();
});
