/**
 * The Kubernetes examples stay consistent with the code (issue 7): the
 * hub's config parses, the worker dials the headless Service's port, the
 * grace periods cover the drain and response timeouts, and the flags and
 * variables they use exist. No YAML parser is needed: the checks read the
 * few lines they care about.
 */

import assert from "node:assert/strict";
import { parseDuration } from "../../lib/cli/units.ts";
import { parseHubArgs } from "../../lib/cli/hub_args.ts";
import { parseWorkerArgs } from "../../lib/cli/worker_args.ts";
import { parseConfig } from "../../lib/config/config.ts";

const hub = await Deno.readTextFile(new URL("hub.yaml", import.meta.url));
const worker = await Deno.readTextFile(new URL("worker.yaml", import.meta.url));

/** The list items under `key:` of the first container (`- value` lines). */
function list(text: string, key: string): string[] {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => l.trim() === `${key}:`);
  assert.ok(at >= 0, `${key}: not found`);
  const indent = lines[at + 1].indexOf("-");
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.indexOf("-") !== indent || !l.trim().startsWith("- ")) break;
    out.push(l.trim().slice(2));
  }
  return out;
}

function env(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/\{ name: (\w+), value: "?([^"}]+?)"? \}/g)) {
    out[m[1]] = m[2];
  }
  for (const m of text.matchAll(/- name: (\w+)\n\s+value: (\S+)/g)) {
    out[m[1]] = m[2];
  }
  return out;
}

function grace(text: string): number {
  const m = /terminationGracePeriodSeconds: (\d+)/.exec(text);
  assert.ok(m);
  return Number(m[1]) * 1000;
}

Deno.test("the hub example: config parses, flags parse, grace covers the drain", () => {
  const config = /hub\.jsonc: \|\n((?: {4}.*\n)+)/.exec(hub);
  assert.ok(config, "hub.jsonc in the ConfigMap");
  const text = config[1].split("\n").map((l) => l.slice(4)).join("\n");
  const parsed = parseConfig(text, {
    maxQueue: 1000,
    queueTimeoutMs: 30_000,
    responseTimeoutMs: 300_000,
  });
  assert.equal(parsed.defaultPool, "default");
  const args = parseHubArgs(list(hub, "args"), env(hub));
  assert.equal(args.listen.port, 8080);
  assert.equal(args.workerListen.port, 4040);
  assert.equal(args.metricsListen?.port, 9090);
  assert.ok(grace(hub) > args.drainTimeoutMs);
  assert.match(hub, /clusterIP: None/);
});

Deno.test("the worker example dials the headless Service and outlasts a job", () => {
  const cmd = list(worker, "command");
  assert.deepEqual(cmd.slice(0, 5), [
    "deno",
    "run",
    "-A",
    "--unstable-no-legacy-abort",
    "jsr:@pothead/worker",
  ]);
  const e = env(worker);
  const args = parseWorkerArgs(cmd.slice(5), {
    ...e,
    POTHEAD_WORKER_TOKEN: "t",
  });
  assert.deepEqual(args.connect, [{
    hostname: "pothead-hubs.default.svc.cluster.local",
    port: 4040,
  }]);
  assert.equal(args.workers, 2);
  assert.match(hub, /name: pothead-hubs\n/);
  assert.ok(grace(worker) > parseDuration("300s"));
});
