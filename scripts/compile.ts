/**
 * `deno task compile`: builds `dist/pothead-hub` and `dist/pothead-worker`
 * with `deno compile` (issue 7).
 *
 * ```sh
 * deno task compile                       # the host: dist/pothead-hub, dist/pothead-worker
 * deno task compile --target all          # dist/<target>/pothead-{hub,worker}[.exe] for the 5 targets
 * deno task compile --target aarch64-unknown-linux-gnu --out build
 * deno task compile --only hub
 * deno task compile --include ./app.ts    # embed an app in the worker (deno compile --include)
 * ```
 *
 * - The hub is built with exactly the permissions it needs
 *   ({@linkcode HUB_PERMISSIONS}), never `-A`; the worker with
 *   {@linkcode WORKER_PERMISSIONS}, each flag with its reason.
 * - Both get {@linkcode RUNTIME_FLAGS}: `--unstable-no-legacy-abort`, which
 *   `deno.json`'s `"unstable": ["no-legacy-abort"]` gives `deno run`, and
 *   `--no-prompt`, so that a daemon fails at once instead of asking.
 * - Files a module reads beside itself (`new URL("./x", import.meta.url)`)
 *   are found in the module graph and passed with `--include`
 *   ({@linkcode findAssets}).
 * - Of `node_modules/` only the packages the entry imports are embedded
 *   ({@linkcode npmExcludes}); test directories of packages are left out
 *   (`bintrees`' 100k-line test data overflows `deno compile`'s stack in
 *   Deno 2.9).
 * - `deno compile` downloads its runtime (`denort`) for the target from the
 *   internet; `DENORT_BIN=/path/to/denort` makes it work offline. A `deno`
 *   binary given as `DENORT_BIN` yields a file that runs as the plain Deno
 *   CLI: good to check the module graph and the embedded metadata, useless
 *   to run (README, "Building the binaries").
 *
 * @module
 */

import { HUB_ENV_VARS } from "../lib/cli/hub_args.ts";

const ROOT = new URL("../", import.meta.url);

/** The targets `deno compile --target` supports (Deno 2). */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;
/** One of {@linkcode TARGETS}. */
export type Target = typeof TARGETS[number];

/** Runtime flags of both binaries. */
export const RUNTIME_FLAGS: readonly string[] = [
  // deno.json: "unstable": ["no-legacy-abort"]. Without it Deno 2.9 aborts
  // req.signal after every successful response (PLATFORM.md).
  "--unstable-no-legacy-abort",
  // A missing permission fails at once; a service never waits on a prompt.
  "--no-prompt",
];

/**
 * The hub's permissions, exactly. Each is needed (the compile tests remove
 * each in turn and watch the hub fail), and nothing else is granted: no
 * write, no run, no sys, no ffi, no outbound connections beyond what
 * `--allow-net` implies for listening.
 */
export const HUB_PERMISSIONS: readonly string[] = [
  // Listens on --listen, --worker-listen, --legacy-worker-listen and
  // --metrics-listen, addresses known only at run time.
  "--allow-net",
  // Reads --config (again on SIGHUP), --worker-token-file, --tls-cert,
  // --tls-key, --worker-tls-cert, --worker-tls-key, --worker-client-ca:
  // paths known only at run time. systemd's ProtectSystem/ProtectHome narrow
  // it further (scripts/systemd/).
  "--allow-read",
  // The variables of the contract, by name (lib/cli/hub_args.ts).
  `--allow-env=${HUB_ENV_VARS.join(",")}`,
];

/**
 * The worker's permissions: `--allow-all`, on purpose. What the worker
 * itself uses:
 *
 * - net: dials the hubs; serves PROMETHEUS_PORT and --redirect-listen;
 * - read: --token-file, --ca-file, --cert, --key, the APP module,
 *   PROMETHEUS_MULTIPROC_DIR; and `/proc/stat` and the cgroup files
 *   (`/sys/fs/cgroup/…`) for the CPU and memory gates, which Deno 2.9 lets a
 *   program read only with `--allow-all` (`--allow-read=/proc/stat` is not
 *   enough; `tests/compiled_permissions_test.ts` shows it): without them a
 *   gate would see no CPU counters and no container limits;
 * - write: PROMETHEUS_MULTIPROC_DIR (wiped at start), the control socket of
 *   --processes;
 * - env: POTHEAD_*, PROMETHEUS_*; sys: hostname (slot names, redirect URL),
 *   loadavg, systemMemoryInfo (gates);
 * - run: --processes starts copies of this binary.
 *
 * And it runs an app, which needs whatever it needs (ffmpeg: run; a model:
 * read, ffi). An operator who wants less names the worker's permissions
 * with `--worker-permission` (and does without the gates that read
 * `/proc`).
 */
export const WORKER_PERMISSIONS: readonly string[] = ["--allow-all"];

/** One binary. */
export interface BinarySpec {
  /** Output name without extension (`pothead-hub`, `pothead-worker`). */
  name: string;
  /** Entry module, relative to the repository root. */
  entry: string;
  /** Permission flags. */
  permissions: readonly string[];
  /** Other runtime flags of this binary only. @default {[]} */
  flags?: readonly string[];
}

/**
 * The hub's V8 flags: a young generation of at most 4 MiB per semi-space.
 * Thousands of workers connecting at once leave handshake garbage that a
 * default (16 MiB) young generation keeps until it grows; measured with
 * `scripts/idle_connections.ts`, 10,000 idle worker connections cost 10.0 KiB
 * each with the default and 7.6 KiB with this, for a few more (cheap)
 * scavenges under load.
 */
export const HUB_V8_FLAGS: readonly string[] = [
  "--v8-flags=--max-semi-space-size=4",
];

/** The two binaries. */
export const BINARIES: readonly BinarySpec[] = [
  {
    name: "pothead-hub",
    entry: "hub.ts",
    permissions: HUB_PERMISSIONS,
    flags: HUB_V8_FLAGS,
  },
  {
    name: "pothead-worker",
    entry: "worker.ts",
    permissions: WORKER_PERMISSIONS,
  },
];

/** What a `deno compile` command line is made of. */
export interface CompilePlan {
  /** The binary. */
  spec: BinarySpec;
  /** Output file (with `.exe` for Windows). */
  output: string;
  /** A target, or null for the host. */
  target: Target | null;
  /** Files and directories for `--include`. */
  includes: readonly string[];
  /** Paths for `--exclude`. */
  excludes: readonly string[];
}

/**
 * The `deno compile` arguments for a plan (pure).
 * @param plan binary, output, target, includes, excludes
 * @returns the arguments after `deno`
 *
 * @example
 * ```ts
 * import { BINARIES, compileArgs } from "./compile.ts";
 * const args = compileArgs({
 *   spec: BINARIES[0],
 *   output: "dist/pothead-hub",
 *   target: null,
 *   includes: [],
 *   excludes: [],
 * });
 * if (args.includes("-A") || args.at(-1) !== "hub.ts") throw new Error();
 * ```
 */
export function compileArgs(plan: CompilePlan): string[] {
  const args = [
    "compile",
    "--quiet",
    ...RUNTIME_FLAGS,
    ...(plan.spec.flags ?? []),
    ...plan.spec.permissions,
  ];
  if (plan.target) args.push("--target", plan.target);
  for (const i of plan.includes) args.push("--include", i);
  for (const e of plan.excludes) args.push("--exclude", e);
  args.push("--output", plan.output, plan.spec.entry);
  return args;
}

/**
 * The output file of a binary.
 * @param outDir the output directory
 * @param name the binary's name
 * @param target a target, or null for the host (directly in `outDir`)
 * @returns the path
 */
export function outputPath(
  outDir: string,
  name: string,
  target: Target | null,
): string {
  const exe = target?.includes("windows") ? ".exe" : "";
  return target ? `${outDir}/${target}/${name}${exe}` : `${outDir}/${name}`;
}

/** The part of `deno info --json` this script reads. */
export interface ModuleGraph {
  /** Every module: its specifier, and its npm package for `npm:` ones. */
  modules: {
    specifier: string;
    kind?: string;
    npmPackage?: string;
    local?: string;
  }[];
  /** npm packages by `name@version`, with their dependencies. */
  npmPackages?: Record<
    string,
    { name: string; dependencies: string[]; localPath?: string }
  >;
}

/**
 * The module graph of an entry (`deno info --json`).
 * @param entry path relative to the repository root
 * @returns the graph
 */
export async function moduleGraph(entry: string): Promise<ModuleGraph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const ASSET_REF =
  /new\s+URL\(\s*(["'`])([^"'`$\n]+)\1\s*,\s*import\.meta\.url\s*\)/g;

/**
 * Files that local modules of the graph read beside themselves
 * (`new URL("./status.html", import.meta.url)`): `deno compile` embeds only
 * modules, so these need `--include`. A referenced file that does not exist
 * is an error: the binary would miss it.
 *
 * @param graph the entry's module graph
 * @param root modules under it are searched @default {the repository root}
 * @returns paths relative to `root`, sorted
 * @throws {Error} naming the module and the missing file
 */
export async function findAssets(
  graph: ModuleGraph,
  root: string = ROOT.href,
): Promise<string[]> {
  const found = new Set<string>();
  for (const m of graph.modules) {
    if (
      !m.specifier.startsWith(root) || m.specifier.includes("/node_modules/")
    ) {
      continue;
    }
    const source = await Deno.readTextFile(new URL(m.specifier));
    for (const match of source.matchAll(ASSET_REF)) {
      const ref = match[2];
      if (ref.endsWith("/") || ref === ".") continue; // a directory base
      const url = new URL(ref, m.specifier);
      if (graph.modules.some((x) => x.specifier === url.href)) continue;
      try {
        await Deno.stat(url);
      } catch {
        throw new Error(
          `${
            m.specifier.slice(root.length)
          } reads '${ref}', which does not exist`,
        );
      }
      found.add(url.href.slice(root.length));
    }
  }
  return [...found].sort();
}

/**
 * What to leave out of the embedded `node_modules/`: every package the entry
 * does not reach (test tools, browsers for tests), the `.bin` links, and the
 * test directories of the packages it does reach.
 *
 * @param graph the entry's module graph
 * @param nodeModules the `node_modules` directory @default {"<root>/node_modules"}
 * @returns paths relative to the repository root, sorted
 */
export async function npmExcludes(
  graph: ModuleGraph,
  nodeModules: string = new URL("node_modules", ROOT).pathname,
): Promise<string[]> {
  const packages = graph.npmPackages ?? {};
  const needed = new Set<string>();
  const visit = (id: string) => {
    if (needed.has(id) || !packages[id]) return;
    needed.add(id);
    for (const d of packages[id].dependencies) visit(d);
  };
  for (const m of graph.modules) if (m.npmPackage) visit(m.npmPackage);
  // `.deno/<name with + for />@<version>` holds each package.
  const folderOf = (id: string) => id.replaceAll("/", "+");
  const neededFolders = new Set([...needed].map(folderOf));
  const neededNames = new Set([...needed].map((id) => packages[id].name));
  const out: string[] = [];
  const rel = (p: string) => `node_modules/${p}`;
  const entries = async (dir: string) => {
    const names: { name: string; isDirectory: boolean }[] = [];
    try {
      for await (const e of Deno.readDir(`${nodeModules}/${dir}`)) {
        names.push({ name: e.name, isDirectory: e.isDirectory });
      }
    } catch { /* absent */ }
    return names;
  };
  for (const e of await entries("")) {
    if (e.name === ".deno") continue;
    if (e.name === ".bin") {
      out.push(rel(".bin"));
    } else if (e.name.startsWith("@")) {
      for (const s of await entries(e.name)) {
        if (!neededNames.has(`${e.name}/${s.name}`)) {
          out.push(rel(`${e.name}/${s.name}`));
        }
      }
    } else if (!neededNames.has(e.name)) {
      out.push(rel(e.name));
    }
  }
  for (const e of await entries(".deno")) {
    if (!e.isDirectory) continue;
    if (e.name === "node_modules") {
      // Hoisted links: keep those of needed packages.
      for (const h of await entries(".deno/node_modules")) {
        if (h.name.startsWith("@")) {
          for (const s of await entries(`.deno/node_modules/${h.name}`)) {
            if (!neededNames.has(`${h.name}/${s.name}`)) {
              out.push(rel(`.deno/node_modules/${h.name}/${s.name}`));
            }
          }
        } else if (!neededNames.has(h.name)) {
          out.push(rel(`.deno/node_modules/${h.name}`));
        }
      }
    } else if (!neededFolders.has(e.name)) {
      out.push(rel(`.deno/${e.name}`));
    }
  }
  for (const id of needed) {
    const dir = `.deno/${folderOf(id)}/node_modules/${packages[id].name}`;
    for (const e of await entries(dir)) {
      if (e.isDirectory && /^(test|tests|__tests__)$/.test(e.name)) {
        out.push(rel(`${dir}/${e.name}`));
      }
    }
  }
  return out.sort();
}

/** Options of {@linkcode buildAll}. */
export interface BuildOptions {
  /** Output directory. @default {"dist"} */
  outDir?: string;
  /** Targets; empty for the host. @default {[]} */
  targets?: readonly Target[];
  /** Which binaries. @default {BINARIES} */
  binaries?: readonly BinarySpec[];
  /** Extra files embedded in the worker (`--include`). @default {[]} */
  workerIncludes?: readonly string[];
  /** The worker's permissions instead of {@linkcode WORKER_PERMISSIONS}. @default {[]} */
  workerPermissions?: readonly string[];
  /** Environment for `deno compile` (e.g. `DENORT_BIN`). @default {{}} */
  env?: Record<string, string>;
  /** Progress lines. @default {console.error} */
  log?: (line: string) => void;
}

/** One built file. */
export interface Built {
  /** The binary. */
  spec: BinarySpec;
  /** A target, or null for the host. */
  target: Target | null;
  /** The output path. */
  output: string;
  /** The `deno compile` arguments used. */
  args: string[];
}

/**
 * Builds the binaries.
 * @param options output directory, targets, extra includes
 * @returns what was built
 * @throws {Error} when `deno compile` fails (its output included)
 */
export async function buildAll(options: BuildOptions = {}): Promise<Built[]> {
  const outDir = options.outDir ?? "dist";
  const log = options.log ?? ((l: string) => console.error(l));
  const targets: (Target | null)[] = options.targets?.length
    ? [...options.targets]
    : [null];
  const built: Built[] = [];
  for (const spec of options.binaries ?? BINARIES) {
    const graph = await moduleGraph(spec.entry);
    const includes = await findAssets(graph);
    const excludes = await npmExcludes(graph);
    const isWorker = spec.name === "pothead-worker";
    if (isWorker) includes.push(...(options.workerIncludes ?? []));
    const permissions = isWorker && options.workerPermissions?.length
      ? options.workerPermissions
      : spec.permissions;
    for (const target of targets) {
      const output = outputPath(outDir, spec.name, target);
      const args = compileArgs({
        spec: { ...spec, permissions },
        output,
        target,
        includes,
        excludes,
      });
      log(`deno ${args.join(" ")}`);
      const out = await new Deno.Command(Deno.execPath(), {
        args,
        cwd: ROOT.pathname,
        env: options.env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        const text = new TextDecoder().decode(out.stderr) +
          new TextDecoder().decode(out.stdout);
        throw new Error(
          `deno compile ${spec.entry}${
            target ? ` --target ${target}` : ""
          } failed:\n${text}`,
        );
      }
      built.push({ spec: { ...spec, permissions }, target, output, args });
    }
  }
  return built;
}

const USAGE = `Usage: deno task compile [options]

Builds dist/pothead-hub and dist/pothead-worker for this machine, or with
--target for other ones (dist/<target>/...).

Options:
  --target TARGET|all   ${TARGETS.join(", ")} (repeatable)
  --out DIR             output directory (dist)
  --only hub|worker     build one of the two
  --include PATH        embed a file in the worker, e.g. its app (repeatable)
  --worker-permission FLAG
                        the worker's permissions instead of --allow-all,
                        e.g. --allow-net (repeatable)
  -h, --help            this text

Offline: DENORT_BIN=/path/to/denort-<version>-<target> deno task compile`;

/**
 * The command line.
 * @param args arguments
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  const targets: Target[] = [];
  const workerIncludes: string[] = [];
  const workerPermissions: string[] = [];
  let outDir = "dist";
  let binaries: readonly BinarySpec[] = BINARIES;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new TypeError(`${a}: missing value`);
      return v;
    };
    if (a === "-h" || a === "--help") {
      console.log(USAGE);
      return 0;
    } else if (a === "--target") {
      const t = value();
      if (t === "all") targets.push(...TARGETS);
      else if ((TARGETS as readonly string[]).includes(t)) {
        targets.push(t as Target);
      } else {
        console.error(`compile: --target: unknown target '${t}'\n${USAGE}`);
        return 2;
      }
    } else if (a === "--out") {
      outDir = value();
    } else if (a === "--only") {
      const which = value();
      binaries = BINARIES.filter((b) => b.name === `pothead-${which}`);
      if (binaries.length === 0) {
        console.error(`compile: --only: expected hub or worker\n${USAGE}`);
        return 2;
      }
    } else if (a === "--include") {
      workerIncludes.push(value());
    } else if (a === "--worker-permission") {
      workerPermissions.push(value());
    } else {
      console.error(`compile: unknown argument '${a}'\n${USAGE}`);
      return 2;
    }
  }
  try {
    const built = await buildAll({
      outDir,
      targets: [...new Set(targets)],
      binaries,
      workerIncludes,
      workerPermissions,
    });
    for (const b of built) console.log(b.output);
    return 0;
  } catch (err) {
    console.error(`compile: ${err instanceof Error ? err.message : err}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
