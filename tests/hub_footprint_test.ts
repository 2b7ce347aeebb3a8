/**
 * What an idle hub loads (issue 6: 10,000 idle workers under 100 MiB). The
 * Node.js compatibility layer under an npm package or `node:tls` /
 * `node:crypto` cost the hub about 10 MiB of resident memory before any
 * worker connected, so the modules `hub.ts` imports statically (what runs at
 * start) must not reach them; a dynamic `import()` (mutual TLS) is fine.
 *
 * @module
 */

import assert from "node:assert/strict";
import { HUB_V8_FLAGS } from "../scripts/compile.ts";

interface Dependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface ModuleInfo {
  specifier: string;
  dependencies?: Dependency[];
}

/** The modules reached from `root` through static, non-type imports. */
async function staticGraph(root: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", root],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "deno info failed");
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: ModuleInfo[];
  };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...info.roots];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.code && !d.isDynamic) todo.push(d.code.specifier);
    }
  }
  return seen;
}

Deno.test("hub.ts loads no npm package, node:tls or node:crypto at start", async () => {
  const graph = [...await staticGraph("hub.ts")];
  const heavy = graph.filter((s) =>
    s.startsWith("npm:") || s.includes("prom-client") ||
    s === "node:tls" || s === "node:crypto"
  );
  assert.deepEqual(heavy, []);
  assert.ok(graph.some((s) => s.endsWith("/lib/hub/serve_hub.ts")));
});

Deno.test("the hub gets the same V8 flags from deno task hub, the README and the compiled binary", async () => {
  const root = new URL("../", import.meta.url);
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  );
  const flags = HUB_V8_FLAGS.join(" ");
  assert.equal(config.tasks.hub, `deno run -A ${flags} hub.ts`);
  const readme = await Deno.readTextFile(new URL("README.md", root));
  assert.ok(readme.includes(`deno run -A ${flags} hub.ts`));
});
