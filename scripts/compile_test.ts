/**
 * What CI can prove about the compiled binaries on a machine without
 * internet access (issue 7). `deno compile` is run with `DENORT_BIN` set to
 * the `deno` binary: the output then runs as the plain Deno CLI, so these
 * tests never run it; they check that both module graphs compile with every
 * file they need, and read the metadata `deno compile` embedded (the
 * permissions, the unstable features, the entry point). The release build
 * with the real `denort` is smoke-tested by `scripts/smoke_compiled.ts`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BINARIES,
  buildAll,
  compileArgs,
  findAssets,
  HUB_PERMISSIONS,
  main,
  outputPath,
  RUNTIME_FLAGS,
  TARGETS,
  WORKER_PERMISSIONS,
} from "./compile.ts";

/** The JSON metadata `deno compile` writes into the binary (Deno 2.x). */
interface Metadata {
  entrypoint_key: string;
  v8_flags?: string[];
  permissions: Record<string, string[] | boolean | null>;
  unstable_config: { features: string[] };
}

/**
 * Finds and parses the metadata object. Its layout is Deno's, not ours: a
 * Deno upgrade that changes it fails here first, with this message.
 */
async function embeddedMetadata(path: string): Promise<Metadata> {
  const bytes = await Deno.readFile(path);
  const text = new TextDecoder("latin1").decode(bytes);
  const start = text.lastIndexOf('{"argv":');
  assert.ok(start >= 0, `${path}: no deno compile metadata ({"argv": …})`);
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) {
      return JSON.parse(text.slice(start, i + 1));
    }
  }
  throw new Error(`${path}: unterminated metadata`);
}

/** Permission fields of the metadata from `--allow-*` flags. */
function expectedPermissions(flags: readonly string[]) {
  const out: Record<string, string[] | null> = {};
  const all = flags.includes("--allow-all");
  for (const kind of ["net", "read", "write", "env", "sys", "run", "ffi"]) {
    if (all) {
      out[`allow_${kind}`] = [];
      continue;
    }
    const flag = flags.find((f) =>
      f === `--allow-${kind}` || f.startsWith(`--allow-${kind}=`)
    );
    out[`allow_${kind}`] = flag === undefined
      ? null
      : flag.includes("=")
      ? flag.slice(flag.indexOf("=") + 1).split(",")
      : [];
  }
  return out;
}

Deno.test("compileArgs: exact flags for every target; the hub never gets -A", () => {
  for (const spec of BINARIES) {
    for (const target of [null, ...TARGETS]) {
      const output = outputPath("dist", spec.name, target);
      const args = compileArgs({
        spec,
        output,
        target,
        includes: ["lib/x.html"],
        excludes: ["node_modules/y"],
      });
      assert.equal(args[0], "compile");
      if (spec.name === "pothead-hub") {
        assert.ok(!args.includes("-A") && !args.includes("--allow-all"));
      }
      for (const f of [...RUNTIME_FLAGS, ...spec.permissions]) {
        assert.ok(args.includes(f), `${spec.name}: ${f} missing`);
      }
      assert.deepEqual(
        args.filter((a) => a.startsWith("--allow-")),
        [...spec.permissions],
      );
      assert.equal(args.at(-1), spec.entry);
      assert.equal(args[args.indexOf("--output") + 1], output);
      assert.equal(args[args.indexOf("--include") + 1], "lib/x.html");
      assert.equal(args[args.indexOf("--exclude") + 1], "node_modules/y");
      if (target) {
        assert.equal(args[args.indexOf("--target") + 1], target);
        assert.equal(
          output,
          `dist/${target}/${spec.name}${
            target.includes("windows") ? ".exe" : ""
          }`,
        );
      } else {
        assert.ok(!args.includes("--target"));
        assert.equal(output, `dist/${spec.name}`);
      }
    }
  }
});

Deno.test("the hub's permissions: net, read, and the contract's variables only", () => {
  assert.deepEqual([...HUB_PERMISSIONS], [
    "--allow-net",
    "--allow-read",
    "--allow-env=POTHEAD_LISTEN,POTHEAD_WORKER_LISTEN,PROMETHEUS_PORT,POTHEAD_WORKER_TOKEN",
  ]);
  // The worker's gates read /proc and /sys, which Deno 2.9 allows only
  // with --allow-all (tests/compiled_permissions_test.ts).
  assert.deepEqual([...WORKER_PERMISSIONS], ["--allow-all"]);
  assert.ok(RUNTIME_FLAGS.includes("--unstable-no-legacy-abort"));
});

Deno.test("findAssets: files read beside a module are found; a missing one is an error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const root = new URL(`file://${dir}/`);
    await Deno.mkdir(join(dir, "lib"));
    await Deno.writeTextFile(
      join(dir, "lib/page.ts"),
      `const html = await Deno.readTextFile(new URL("./status.html", import.meta.url));
       const dirBase = new URL("./", import.meta.url);
       const other = new URL("./other.ts", import.meta.url);`,
    );
    await Deno.writeTextFile(join(dir, "lib/status.html"), "<p>hi</p>");
    await Deno.writeTextFile(join(dir, "lib/other.ts"), "export {};");
    const graph = {
      modules: [
        { specifier: new URL("lib/page.ts", root).href },
        { specifier: new URL("lib/other.ts", root).href },
      ],
    };
    assert.deepEqual(await findAssets(graph, root.href), ["lib/status.html"]);
    await Deno.remove(join(dir, "lib/status.html"));
    await assert.rejects(
      () => findAssets(graph, root.href),
      /lib\/page\.ts reads '\.\/status\.html', which does not exist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile rejects an unknown target with exit 2", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    assert.equal(await main(["--target", "sparc-sun-solaris"]), 2);
    assert.equal(await main(["--only", "both"]), 2);
  } finally {
    console.error = original;
  }
  assert.match(errors.join("\n"), /unknown target 'sparc-sun-solaris'/);
});

Deno.test({
  name:
    "both entries compile offline (DENORT_BIN) with their exact permissions, the unstable feature, and their assets",
  // deno compile writes node_modules/.deno state and reads the npm cache.
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "pothead-compile-" });
    try {
      const deno = Deno.execPath();
      const built = await buildAll({
        outDir: out,
        binaries: [
          ...BINARIES,
          {
            name: "asset-probe",
            entry: "tests/fixtures/compile_asset/main.ts",
            permissions: ["--allow-read"],
          },
        ],
        env: { DENORT_BIN: deno },
        log: () => {},
      });
      assert.equal(built.length, 3);
      const denoSize = (await Deno.stat(deno)).size;
      for (const b of built) {
        const info = await Deno.stat(b.output);
        assert.ok(info.isFile && (info.mode! & 0o111) !== 0, b.output);
        // Only the npm packages the entry imports are embedded (no test
        // tools, no browsers): a few MB at most on top of the runtime.
        assert.ok(
          info.size - denoSize < 8 * 1024 * 1024,
          `${b.output}: ${info.size - denoSize} bytes embedded`,
        );
        const meta = await embeddedMetadata(b.output);
        assert.equal(meta.entrypoint_key, b.spec.entry);
        assert.ok(
          meta.unstable_config.features.includes("no-legacy-abort"),
          `${b.spec.name}: features ${meta.unstable_config.features}`,
        );
        assert.equal(meta.permissions.prompt, false);
        // The hub's young generation is capped (idle connections stay cheap).
        const v8 = (b.spec.flags ?? []).map((f) =>
          f.replace("--v8-flags=", "")
        );
        for (const f of v8) {
          assert.ok(
            meta.v8_flags?.includes(f),
            `${b.spec.name}: v8 flags ${meta.v8_flags}`,
          );
        }
        const want = expectedPermissions(b.spec.permissions);
        for (const [k, v] of Object.entries(want)) {
          assert.deepEqual(meta.permissions[k], v, `${b.spec.name}: ${k}`);
        }
      }
      // A file read beside a module travels in the binary.
      const probe = await Deno.readFile(built[2].output);
      const marker = new TextEncoder().encode(
        "pothead-compile-asset-marker-5f1c2a",
      );
      assert.ok(indexOf(probe, marker) >= 0, "asset.txt was not embedded");
      assert.ok(
        built[2].args.includes("tests/fixtures/compile_asset/asset.txt"),
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    if (hay[i] !== needle[0]) continue;
    for (let j = 1; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}
