import assert from "node:assert/strict";
import { Logger, type LogLevel } from "./logger.ts";

const LOGGER = new URL("./logger.ts", import.meta.url).href;

/** Runs a script that imports the logger as `Logger`; its stderr lines. */
async function stderrOf(script: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { Logger } from ${JSON.stringify(LOGGER)};\n${script}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stderr).split("\n")
    .map((l) => l.replace(/^\S+ /, "")) // the time
    .filter((l) => l !== "" && !/^\s*at /.test(l));
}

Deno.test("Logger gives the sink each line with its level; base fields once, then the line's", () => {
  const got: [string, LogLevel][] = [];
  const log = new Logger({
    level: "debug",
    sink: (line, level) => got.push([line.replace(/^\S+ /, ""), level]),
    base: { role: "worker" },
  });
  log.debug("d", { a: 1, skip: undefined });
  log.info("i", { text: "two words", empty: "" });
  log.child({ slot: "h/1/0" }).warn("w");
  log.error("e", { role: "again" });
  assert.deepEqual(got, [
    ["DEBUG d role=worker a=1", "debug"],
    ['INFO i role=worker text="two words" empty=""', "info"],
    ["WARN w role=worker slot=h/1/0", "warn"],
    ["ERROR e role=worker role=again", "error"],
  ]);
});

Deno.test("Logger in JSON: a field overrides a base field of the same name", () => {
  const lines: string[] = [];
  const log = new Logger({
    format: "json",
    sink: (l) => lines.push(l),
    base: { role: "hub", pid: 1 },
  });
  log.info("x", { pid: 2, gone: undefined });
  const { time, ...rest } = JSON.parse(lines[0]);
  assert.match(time, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(rest, { level: "info", msg: "x", role: "hub", pid: 2 });
});

Deno.test("stderr sink: info lines wait for their batch, a warning writes everything before it at once", async () => {
  const lines = await stderrOf(`
    const log = new Logger();
    log.info("first");
    Deno.stderr.writeSync(new TextEncoder().encode("marker-1\\n"));
    log.warn("second");
    Deno.stderr.writeSync(new TextEncoder().encode("marker-2\\n"));
    log.info("third");
  `);
  assert.deepEqual(lines, [
    "marker-1",
    "INFO first",
    "WARN second",
    "marker-2",
    "INFO third",
  ]);
});

Deno.test("stderr sink: lines still buffered are written on Deno.exit", async () => {
  const lines = await stderrOf(`
    const log = new Logger();
    for (let i = 0; i < 3; i++) log.info("job", { i });
    Deno.exit(3);
  `);
  assert.deepEqual(lines, ["INFO job i=0", "INFO job i=1", "INFO job i=2"]);
});

Deno.test("stderr sink: lines still buffered are written before an uncaught error ends the process", async () => {
  const thrown = await stderrOf(`
    const log = new Logger();
    log.info("before the throw");
    setTimeout(() => { throw new Error("boom"); }, 0);
  `);
  assert.equal(thrown[0], "INFO before the throw");
  assert(thrown.some((l) => l.includes("boom")));
  const rejected = await stderrOf(`
    const log = new Logger();
    log.info("before the rejection");
    Promise.reject(new Error("boom"));
  `);
  assert.equal(rejected[0], "INFO before the rejection");
  assert(rejected.some((l) => l.includes("boom")));
});

Deno.test("Logger: the time of every line is the ISO 8601 of that moment", () => {
  const lines: string[] = [];
  const log = new Logger({ format: "json", sink: (l) => lines.push(l) });
  for (let i = 0; i < 2000; i++) {
    const before = Date.now();
    log.info("t");
    const after = Date.now();
    const { time } = JSON.parse(lines[i]);
    assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const t = Date.parse(time);
    assert(before <= t && t <= after, `${time} not in [${before}, ${after}]`);
  }
});
