/**
 * Routing by host and path, priority classes and fair shares, end to end
 * with real hub and worker processes (issue 8, item 6).
 */

import assert from "node:assert/strict";
import { type Proc, startHub, startWorker, until } from "./processes.ts";
import {
  jobOrder,
  metric,
  ORDER_APP,
  rawRequest,
  tempDir,
} from "./routing_helpers.ts";

const ROUTES = `{
  // Three pools; no default pool: what no route matches gets 404 no-route.
  "pools": { "fast": {}, "wild": {}, "bare": {} },
  "routes": [
    { "host": "API.Example.com", "path": "/render/fast/", "pool": "fast" },
    { "host": "*.example.com", "path": "/render/", "pool": "wild" },
    { "host": "example.com", "pool": "bare" },
  ],
}`;

Deno.test("routing by host and path prefix through real processes", async (t) => {
  await using dir = await tempDir();
  const config = await dir.write("pothead.jsonc", ROUTES);
  await using hub = await startHub(["--config", config]);
  await using fast = await startWorker(hub.workerAddr, [
    "--pool",
    "fast",
    ORDER_APP,
  ]);
  await using wild = await startWorker(hub.workerAddr, [
    "--pool",
    "wild",
    ORDER_APP,
  ]);
  await using bare = await startWorker(hub.workerAddr, [
    "--pool",
    "bare",
    ORDER_APP,
  ]);
  const poolOfPid = new Map<number, string>([
    [fast.child.pid, "fast"],
    [wild.child.pid, "wild"],
    [bare.child.pid, "bare"],
  ]);

  /** The pool whose worker answered, or `404 <Pothead-Error>`. */
  const routeOf = async (host: string, path: string) => {
    const res = await rawRequest(hub.url, path, [["Host", host]]);
    if (res.status === 404) return `404 ${res.headers.get("pothead-error")}`;
    assert.equal(res.status, 200, res.body);
    return poolOfPid.get(JSON.parse(res.body).pid) ?? "unknown worker";
  };

  await t.step(
    "mixed-case hosts route alike (port and trailing dot ignored)",
    async () => {
      // seeds/002: a case-sensitive match sent "IronHand..." elsewhere.
      for (
        const host of [
          "api.example.com",
          "API.EXAMPLE.COM",
          "Api.Example.Com:8080",
          "api.example.com.",
        ]
      ) {
        assert.equal(await routeOf(host, "/render/fast/1"), "fast", host);
      }
      for (
        const host of [
          "ironhand.example.com",
          "IronHand.Example.com",
          "IRONHAND.EXAMPLE.COM:443",
        ]
      ) {
        assert.equal(await routeOf(host, "/render/x"), "wild", host);
      }
      for (const host of ["example.com", "Example.COM.", "EXAMPLE.com:80"]) {
        assert.equal(await routeOf(host, "/anything"), "bare", host);
      }
    },
  );

  await t.step(
    "wildcard and prefix precedence: first match in file order",
    async () => {
      // The exact host with the longer prefix is listed first and wins.
      assert.equal(await routeOf("api.example.com", "/render/fast/9"), "fast");
      // Same host, prefix not matched: falls to the wildcard route.
      assert.equal(await routeOf("api.example.com", "/render/slow"), "wild");
      // Other subdomains, several labels deep, never reach the exact route.
      assert.equal(await routeOf("x.y.example.com", "/render/fast/9"), "wild");
      // The wildcard does not match the bare name; its own route does.
      assert.equal(await routeOf("example.com", "/render/fast/9"), "bare");
      // A prefix is a prefix: "/render" is not under "/render/".
      assert.equal(await routeOf("x.example.com", "/render"), "404 no-route");
      assert.equal(await routeOf("api.example.com", "/other"), "404 no-route");
      assert.equal(
        await routeOf("example.org", "/render/fast/1"),
        "404 no-route",
      );
      assert.equal(
        await routeOf("notexample.com", "/render/x"),
        "404 no-route",
      );
    },
  );

  await t.step("metrics show each pool", async () => {
    for (const pool of ["fast", "wild", "bare"]) {
      assert.equal(
        await metric(hub, "pothead_hub_queue_length", `pool="${pool}"`),
        0,
      );
      assert.equal(
        await metric(hub, "pothead_hub_workers", `pool="${pool}",state="idle"`),
        1,
      );
    }
  });
});

const PRIORITY = `{
  "pools": { "jobs": {} },
  "routes": [
    { "path": "/fair/", "pool": "jobs", "fairnessKey": "header:X-Tenant" },
    { "path": "/", "pool": "jobs", "allowPriorityHeader": true },
  ],
}`;

/** Hub and one one-slot worker of pool `jobs`, and a gate that holds its slot. */
async function loadedPool(dir: Awaited<ReturnType<typeof tempDir>>) {
  const config = await dir.write("pothead.jsonc", PRIORITY);
  const hub = await startHub(["--config", config]);
  let worker: Proc;
  try {
    worker = await startWorker(hub.workerAddr, ["--pool", "jobs", ORDER_APP]);
  } catch (err) {
    await hub.stop();
    throw err;
  }
  const gate = `${dir.path}/open`;
  const pending: Promise<unknown>[] = [];
  const send = (path: string, headers: Record<string, string> = {}) => {
    const p = fetch(`${hub.url}${path}`, { headers }).then(async (r) => {
      const body = await r.text();
      assert.equal(r.status, 200, body);
      return body;
    });
    pending.push(p);
    return p;
  };
  const queued = async (n: number) =>
    await until(
      async () =>
        await metric(hub, "pothead_hub_queue_length", 'pool="jobs"') === n,
      `${n} requests queued`,
    );
  // The one slot runs a job that waits for the gate.
  send(`/hold?name=blocker&hold=${encodeURIComponent(gate)}`);
  await until(() => jobOrder(worker).includes("blocker"), "blocker running");
  return {
    hub,
    worker,
    send,
    queued,
    async release() {
      await Deno.writeTextFile(gate, "");
      await Promise.all(pending);
    },
    async [Symbol.asyncDispose]() {
      await Promise.allSettled([worker.stop(), hub.stop()]);
      await Promise.allSettled(pending);
    },
  };
}

Deno.test("priority classes under a loaded pool: higher first, FIFO within a class", async () => {
  await using dir = await tempDir();
  await using p = await loadedPool(dir);
  const order: [string, string][] = [
    ["low-1", "0"],
    ["low-2", "0"],
    ["high-1", "5"],
    ["mid-1", "2"],
    ["below-1", "-3"],
    ["high-2", "5"],
    ["mid-2", "2"],
  ];
  // One at a time, each seen in the queue before the next: arrival order is known.
  for (const [i, [name, priority]] of order.entries()) {
    p.send(`/job?name=${name}`, { "pothead-priority": priority });
    await p.queued(i + 1);
  }
  await p.release();
  assert.deepEqual(jobOrder(p.worker), [
    "blocker",
    "high-1",
    "high-2",
    "mid-1",
    "mid-2",
    "low-1",
    "low-2",
    "below-1",
  ]);
});

Deno.test("fair shares: a burst of tenant A delays tenant B by at most one job", async () => {
  await using dir = await tempDir();
  await using p = await loadedPool(dir);
  for (let i = 0; i < 50; i++) {
    p.send(`/fair/job?name=a-${i}`, { "x-tenant": "A" });
  }
  await p.queued(50);
  p.send("/fair/job?name=b-0", { "x-tenant": "B" });
  await p.queued(51);
  await p.release();
  const order = jobOrder(p.worker);
  assert.equal(order.length, 52);
  assert.equal(order[0], "blocker");
  const b = order.indexOf("b-0");
  // After the job that was running: B's request is among the first two.
  assert.ok(b >= 1 && b <= 2, `b-0 ran as job ${b} of ${order.join(",")}`);
});
