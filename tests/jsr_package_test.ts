/**
 * The JSR package `@pothead/worker` (issue 7, item 2).
 *
 * `deno publish --dry-run` must be clean. Then the package is served the way
 * jsr.io serves it, from a registry on loopback (`JSR_URL`): exactly the
 * files `deno publish` would upload, with the import-map specifiers rewritten
 * as publishing does, and `meta.json` / `<version>_meta.json` with their
 * SHA-256 checksums. `deno run -A jsr:@pothead/worker ./app.ts` then runs
 * the package's `.` export as the main module, from a directory with no
 * `deno.json`, and serves a request through a hub.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startHub } from "./processes.ts";

const ROOT = new URL("../", import.meta.url);
const decoder = new TextDecoder();

interface DenoJson {
  name: string;
  version: string;
  exports: Record<string, string>;
  imports?: Record<string, string>;
}

async function publishDryRun(): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    text: decoder.decode(out.stdout) + decoder.decode(out.stderr),
  };
}

/** The files `deno publish` would upload, as package paths (`/worker.ts`). */
function publishedPaths(text: string): string[] {
  const paths: string[] = [];
  for (const m of text.matchAll(/^\s*(file:\/\/\S+)/gm)) {
    paths.push(
      decodeURIComponent(new URL(m[1]).pathname)
        .slice(decodeURIComponent(ROOT.pathname).length - 1),
    );
  }
  return paths;
}

Deno.test("deno publish --dry-run is clean: no slow types, no errors, one known warning", async () => {
  const { code, text } = await publishDryRun();
  assert.equal(code, 0, text);
  assert.match(text, /Dry run complete/);
  // The only warning: the worker loads the user's APP by a specifier given
  // at run time (lib/worker/app.ts), which no publish step can analyze.
  const warnings = [
    ...text.matchAll(/warning\[([\w-]+)\][^\n]*\n\s*-->\s*(\S+)/g),
  ]
    .map((m) => `${m[1]} ${m[2].replace(/:\d+:\d+$/, "")}`);
  for (const w of warnings) {
    assert.match(w, /^unanalyzable-dynamic-import .*lib\/worker\/app\.ts$/, w);
  }
  const paths = publishedPaths(text);
  const config: DenoJson = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  for (const target of Object.values(config.exports)) {
    assert.ok(paths.includes(target.slice(1)), `${target} is not published`);
  }
  assert.ok(!paths.some((p) => /_test\.ts$|^\/tests\/|^\/scripts\//.test(p)));
});

/** Rewrites import-map specifiers as `deno publish` does. */
function unfurl(source: string, imports: Record<string, string>): string {
  return source.replace(
    /((?:from|import)\s*\(?\s*)(["'])([^"']+)\2/g,
    (all, lead: string, q: string, spec: string) => {
      if (imports[spec]) return `${lead}${q}${imports[spec]}${q}`;
      for (const [key, value] of Object.entries(imports)) {
        if (key.endsWith("/") && spec.startsWith(key)) {
          return `${lead}${q}${value}${spec.slice(key.length)}${q}`;
        }
      }
      return all;
    },
  );
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** A registry on loopback serving one version of the package. */
async function fakeJsr(
  files: Map<string, Uint8Array<ArrayBuffer>>,
  config: DenoJson,
) {
  const [, scope, name] = /^@([^/]+)\/(.+)$/.exec(config.name)!;
  const manifest: Record<string, { size: number; checksum: string }> = {};
  for (const [path, bytes] of files) {
    manifest[path] = {
      size: bytes.length,
      checksum: `sha256-${await sha256(bytes)}`,
    };
  }
  const base = `/${config.name}`;
  const requested: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      requested.push(path);
      if (path === `${base}/meta.json`) {
        return Response.json({
          scope,
          name,
          latest: config.version,
          versions: { [config.version]: {} },
        });
      }
      if (path === `${base}/${config.version}_meta.json`) {
        return Response.json({ manifest, exports: config.exports });
      }
      const prefix = `${base}/${config.version}`;
      if (path.startsWith(prefix) && files.has(path.slice(prefix.length))) {
        return new Response(files.get(path.slice(prefix.length)));
      }
      return new Response("not found", { status: 404 });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    requested,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("deno run -A jsr:@pothead/worker runs the package's . export and serves a request through a hub", async () => {
  const { code, text } = await publishDryRun();
  assert.equal(code, 0, text);
  const config: DenoJson = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const files = new Map<string, Uint8Array<ArrayBuffer>>();
  for (const path of publishedPaths(text)) {
    let bytes: Uint8Array<ArrayBuffer> = await Deno.readFile(
      new URL(`.${path}`, ROOT),
    );
    if (/\.(ts|js|mts|mjs)$/.test(path)) {
      bytes = new TextEncoder().encode(
        unfurl(decoder.decode(bytes), config.imports ?? {}),
      );
    }
    files.set(path, bytes);
  }
  await using registry = await fakeJsr(files, config);
  await using hub = await startHub();

  const user = await Deno.makeTempDir({ prefix: "pothead-jsr-user-" });
  const denoDir = await Deno.makeTempDir({ prefix: "pothead-jsr-cache-" });
  try {
    await Deno.writeTextFile(
      join(user, "app.ts"),
      `export default {
        fetch: (req: Request) =>
          new Response("from the package: " + new URL(req.url).pathname),
      };\n`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        `jsr:${config.name}`,
        "--log-format",
        "json",
        "--connect",
        hub.workerAddr,
        "./app.ts",
      ],
      cwd: user,
      env: {
        JSR_URL: registry.url,
        NO_COLOR: "1",
        PROMETHEUS_PORT: "0",
        // A cache of its own: nothing of the fake registry stays behind.
        // npm packages come from the npm registry, as for any user.
        DENO_DIR: denoDir,
      },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    const pump = (async () => {
      let buf = "";
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        buf += chunk;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        lines.push(...parts);
      }
    })();
    try {
      const end = Date.now() + 120_000;
      while (!lines.some((l) => l.includes('"worker connected"'))) {
        const status = await Promise.race([
          child.status,
          new Promise((r) => setTimeout(r, 50)),
        ]);
        if (status || Date.now() > end) {
          assert.fail(
            `the worker from jsr:${config.name} did not connect:\n${
              lines.slice(-15).join("\n")
            }`,
          );
        }
      }
      const res = await fetch(`${hub.url}/via-jsr`, {
        signal: AbortSignal.timeout(20_000),
      });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "from the package: /via-jsr");
      // The entry came from the registry, chosen by deno.json's exports["."].
      const entry = config.exports["."].slice(1);
      assert.ok(
        registry.requested.includes(
          `/${config.name}/${config.version}${entry}`,
        ),
        registry.requested.join("\n"),
      );
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0, lines.slice(-5).join("\n"));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await pump.catch(() => {});
    }
  } finally {
    await Deno.remove(user, { recursive: true });
    await Deno.remove(denoDir, { recursive: true }).catch(() => {});
  }
});
