/**
 * `--poll-jobs` with real processes (issue 3): the app's `waitForSlot`
 * decides how many jobs run, its ticket sees every request and every end,
 * and shutdown aborts the wait.
 */

import assert from "node:assert/strict";
import { type LogLine, startHub, startWorker, until } from "./processes.ts";

const APP = "tests/fixtures/gated_pair_app.ts";

interface JobReport {
  pid: number;
  start: number;
  end: number;
  running: number;
  peak: number;
}

async function jobs(url: string, n: number, query: string) {
  return await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await fetch(`${url}/job${i}?${query}`);
      assert.equal(res.status, 200, await res.clone().text());
      return await res.json() as JobReport;
    }),
  );
}

const count = (lines: string[], msg: string) =>
  lines.filter((l) => l.includes(`"msg":"${msg}"`)).length;

Deno.test("--poll-jobs: an app that admits two never runs three at once", async () => {
  await using hub = await startHub();
  await using worker = await startWorker(
    hub.workerAddr,
    ["--poll-jobs", APP],
    2,
    { GATE_MAX: "2" },
  );
  // Each job waits until two run, so the gate's full width is reached
  // whatever the timing; a third would show in `peak`.
  const reports = await jobs(hub.url, 8, "barrier=2");
  assert.equal(Math.max(...reports.map((r) => r.peak)), 2);
  assert.ok(reports.some((r) => r.running === 2));
  // Every job's request reached the ticket, and every ticket ended.
  assert.equal(count(worker.lines, "app ticket received"), 8);
  assert.equal(count(worker.lines, "bad request"), 0);
  // 8 connections for the jobs, then 2 pulled again: the next wait is on.
  await until(
    () => count(worker.lines, "worker connected") >= 10,
    "two idle pulls after the jobs",
  );
  worker.kill("SIGTERM");
  assert.equal((await worker.status).code, 0);
  // The wait beyond the two idle pulls was aborted by the shutdown, and
  // every ticket granted was done, once.
  assert.equal(count(worker.lines, "app wait aborted"), 1);
  assert.equal(
    count(worker.lines, "app ticket done"),
    count(worker.lines, "app ticket granted"),
  );
});

Deno.test("--poll-jobs: a gate wider than 64 is not capped by a slot count", async () => {
  const width = 80;
  await using hub = await startHub();
  await using worker = await startWorker(
    hub.workerAddr,
    ["--poll-jobs", APP],
    width,
    { GATE_MAX: String(width) },
  );
  const reports = await jobs(hub.url, width, `barrier=${width}`);
  assert.equal(Math.max(...reports.map((r) => r.peak)), width);
  const jobLines = () =>
    worker.lines.map((l) => {
      try {
        return (JSON.parse(l) as LogLine).msg === "job"
          ? String((JSON.parse(l) as LogLine).slot)
          : null;
      } catch {
        return null;
      }
    }).filter((s) => s !== null);
  // Job lines are written in batches, a moment after the responses.
  await until(() => jobLines().length === width, "a job line per job");
  const slots = new Set(jobLines());
  assert.equal(slots.size, width, "each running job has a slot of its own");
});

Deno.test("--poll-jobs: the built-in --max-concurrent gate", async () => {
  await using hub = await startHub();
  await using _worker = await startWorker(
    hub.workerAddr,
    [
      "--poll-jobs",
      "--max-concurrent",
      "3",
      "tests/fixtures/gated_pair_app.ts:builtin",
    ],
    3,
  );
  const reports = await jobs(hub.url, 9, "barrier=3");
  assert.equal(Math.max(...reports.map((r) => r.peak)), 3);
});
