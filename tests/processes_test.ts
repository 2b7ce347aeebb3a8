/**
 * `--processes P` with real processes (issue 3): CPU-bound jobs in parallel,
 * a killed child restarted, a graceful drain, and host-wide admission with
 * `--poll-jobs`.
 */

import assert from "node:assert/strict";
import {
  type LogLine,
  type Proc,
  startHub,
  startWorker,
  until,
} from "./processes.ts";

interface JobReport {
  pid: number;
  start: number;
  end: number;
}

function parsed(proc: Proc): LogLine[] {
  return proc.lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
}

const childPids = (proc: Proc) =>
  parsed(proc).filter((l) => l.msg === "child started").map((l) =>
    Number(l.pid)
  );

const count = (proc: Proc, msg: string) =>
  parsed(proc).filter((l) => l.msg === msg).length;

/** SIGKILLs every child the parent reported (a test must leave none). */
function killChildren(proc: Proc): void {
  for (const pid of childPids(proc)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
}

async function job(url: string, path = "/cpu"): Promise<JobReport> {
  const res = await fetch(`${url}${path}`);
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json() as JobReport;
}

/** The most intervals that hold a common instant. */
function maxOverlap(reports: JobReport[]): number {
  let best = 0;
  for (const r of reports) {
    best = Math.max(
      best,
      reports.filter((o) => o.start <= r.start && r.start < o.end).length,
    );
  }
  return best;
}

Deno.test("--processes 2: CPU-bound jobs run in parallel; a killed child comes back", async () => {
  await using hub = await startHub();
  const worker = await startWorker(
    hub.workerAddr,
    ["--processes", "2", "tests/fixtures/cpu_bound_app.ts"],
    2,
  );
  try {
    // Each job blocks its process's event loop for ~300 ms: only two
    // processes can run two of them at once.
    const [a, b] = await Promise.all([job(hub.url), job(hub.url)]);
    assert.notEqual(a.pid, b.pid);
    assert.ok(
      a.start < b.end && b.start < a.end,
      `intervals overlap: ${JSON.stringify([a, b])}`,
    );

    const [victim, survivor] = childPids(worker);
    Deno.kill(victim, "SIGKILL");
    await worker.waitFor((l) =>
      l.msg === "child exited; restarting" && l.pid === victim
    );
    await until(() => childPids(worker).length === 3, "the child restarted");
    const reborn = childPids(worker)[2];
    assert.ok(reborn !== victim && reborn !== survivor);
    await until(
      () => count(worker, "worker connected") >= 3,
      "the new child connected",
    );
    const again = await Promise.all([job(hub.url), job(hub.url)]);
    assert.deepEqual(
      new Set(again.map((r) => r.pid)),
      new Set([survivor, reborn]),
    );
  } finally {
    await worker.stop();
    killChildren(worker);
  }
});

Deno.test("--processes 2: SIGTERM drains the children and exits 0", async () => {
  await using hub = await startHub();
  const worker = await startWorker(
    hub.workerAddr,
    ["--processes", "2", "tests/fixtures/cpu_bound_app.ts"],
    2,
  );
  try {
    const pending = job(hub.url, "/cpu?ms=800");
    await worker.waitFor((l) => l.msg === "app job start");
    worker.kill("SIGTERM");
    const report = await pending; // the job in flight finishes
    assert.ok(childPids(worker).includes(report.pid));
    assert.equal((await worker.status).code, 0);
    assert.equal(count(worker, "child exited"), 2);
  } finally {
    await worker.stop();
    killChildren(worker);
  }
});

Deno.test("--processes 2 --poll-jobs: the parent admits for the whole host", async () => {
  await using hub = await startHub();
  // The app admits two; decided by each child alone, four would run.
  const worker = await startWorker(
    hub.workerAddr,
    ["--processes", "2", "--poll-jobs", "tests/fixtures/gated_pair_app.ts"],
    2,
    { GATE_MAX: "2" },
  );
  try {
    const reports = await Promise.all(
      Array.from({ length: 8 }, (_, i) => job(hub.url, `/p${i}?ms=400`)),
    );
    assert.equal(maxOverlap(reports), 2, JSON.stringify(reports));
    // Grants reach the children whose slots asked: both of them served.
    assert.equal(new Set(reports.map((r) => r.pid)).size, 2);
    // The parent's gate saw each request arrive.
    assert.equal(
      worker.lines.filter((l) => l.includes('"app ticket received"')).length,
      8,
    );
  } finally {
    await worker.stop();
    killChildren(worker);
  }
});

Deno.test("--processes: a command line the children refuse stops the parent with 2", async () => {
  await using hub = await startHub();
  const worker = await startWorker(
    hub.workerAddr,
    ["--processes", "2", "tests/fixtures/no_such_app.ts"],
    0,
  );
  try {
    assert.equal((await worker.status).code, 2);
  } finally {
    await worker.stop();
    killChildren(worker);
  }
});

/** Whether a pid still runs (a zombie left for a non-reaping init counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

Deno.test("--processes: children drain and exit when the parent dies", async () => {
  await using hub = await startHub();
  const worker = await startWorker(
    hub.workerAddr,
    ["--processes", "2", "tests/fixtures/cpu_bound_app.ts"],
    2,
  );
  try {
    const pids = childPids(worker);
    assert.equal(pids.length, 2);
    await worker.stop(); // SIGKILL: no chance to forward anything
    await until(
      () => pids.every((pid) => !alive(pid)),
      "orphaned children to exit",
    );
  } finally {
    await worker.stop();
    killChildren(worker);
  }
});
