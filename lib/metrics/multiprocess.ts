/**
 * Metrics of many processes on one host, merged (`PROMETHEUS_MULTIPROC_DIR`).
 *
 * prom-client merges the registries of a Node.js cluster over IPC; there is
 * no cluster here (the `--processes` children, or separate worker services),
 * so the processes meet in a directory instead:
 *
 * - Every process writes `registry.getMetricsAsJSON()` to
 *   `<dir>/<pid>-<start>.json` once a second and when it stops
 *   ({@linkcode startMultiprocessWriter}). The write goes to a temporary file
 *   first and is renamed into place, so a reader never sees half a file.
 * - The process that owns the metrics port wipes the directory's `*.json`
 *   files when it starts ({@linkcode wipeMultiprocessDir}), then serves the
 *   merge of every file plus its own live registry
 *   ({@linkcode readMergedMetrics}) with prom-client's
 *   `AggregatorRegistry.aggregate`: counters and histograms are summed,
 *   gauges combined by their `aggregator` setting (sum unless the metric says
 *   otherwise).
 * - The file of a process that died stays, so its counters and histograms
 *   stay in the sums and never go backwards. Its gauges are dropped: a
 *   process that stopped cleanly marks its last file `exited`, and a file not
 *   rewritten for `staleAfterMs` (60 s by default; long, because a process
 *   whose app keeps the event loop busy writes late) counts as dead too.
 *
 * The file name carries the start time beside the pid, so a new process
 * that gets a dead one's pid never overwrites the dead one's counters.
 *
 * @module
 */

import client from "prom-client";

/** One metric of `Registry.getMetricsAsJSON()`. */
export type MetricJson = Awaited<
  ReturnType<client.Registry["getMetricsAsJSON"]>
>[number];

/** What one process writes. */
export interface ProcessMetricsFile {
  /** Format version. */
  version: 1;
  /** Process id. */
  pid: number;
  /** When the process started writing, Unix ms. */
  started: number;
  /** When this file was written, Unix ms. */
  updated: number;
  /** Set in the last file of a process that stopped cleanly. */
  exited: boolean;
  /** `registry.getMetricsAsJSON()`. */
  metrics: MetricJson[];
}

/** Options of {@linkcode startMultiprocessWriter}. */
export interface MultiprocessWriterOptions {
  /** How often the file is rewritten, ms. @default {1000} */
  intervalMs?: number;
  /** Called when a write fails (the next one is tried on schedule). @default {() => {}} */
  onError?: (err: unknown) => void;
}

/** A running writer. */
export interface MultiprocessWriter extends AsyncDisposable {
  /** The file it writes. */
  readonly path: string;
  /** Writes the file now. */
  flush(): Promise<void>;
  /** Stops the timer and writes the last file, marked `exited`. */
  close(): Promise<void>;
}

const SUFFIX = ".json";
let writers = 0; // more than one writer in a process (tests, embedders)
const TMP_SUFFIX = ".json.tmp";

/**
 * Starts writing a registry's metrics to `<dir>/<pid>-<start>.json`, once
 * at once and then every `intervalMs`.
 *
 * @param dir the shared directory (it must exist)
 * @param registry whose metrics @default {client.register}
 * @param options interval and error hook
 * @returns the writer; `close()` it when the process stops
 *
 * @example Write, merge, stop
 * ```ts
 * import client from "prom-client";
 * import { readMergedMetrics, startMultiprocessWriter } from "./multiprocess.ts";
 * const dir = await Deno.makeTempDir();
 * const registry = new client.Registry();
 * new client.Counter({ name: "jobs_total", help: "Jobs.", registers: [registry] }).inc(3);
 * await using writer = startMultiprocessWriter(dir, registry);
 * await writer.flush();
 * const merged = await readMergedMetrics(dir);
 * if (!(await merged.metrics()).includes("jobs_total 3")) throw new Error();
 * ```
 */
export function startMultiprocessWriter(
  dir: string,
  registry: client.Registry = client.register,
  options: MultiprocessWriterOptions = {},
): MultiprocessWriter {
  const started = Date.now();
  const base = `${dir}/${Deno.pid}-${started.toString(36)}${
    writers++ ? `-${writers}` : ""
  }`;
  const path = base + SUFFIX;
  const tmp = base + TMP_SUFFIX;
  const onError = options.onError ?? (() => {});
  let writing: Promise<void> | null = null;
  let again = false;
  let closed = false;

  const writeOnce = async (exited: boolean) => {
    const file: ProcessMetricsFile = {
      version: 1,
      pid: Deno.pid,
      started,
      updated: Date.now(),
      exited,
      metrics: await registry.getMetricsAsJSON(),
    };
    await Deno.writeTextFile(tmp, JSON.stringify(file));
    await Deno.rename(tmp, path);
  };
  // One write at a time; a flush asked for during a write runs after it.
  const write = (exited = false): Promise<void> => {
    if (closed) return Promise.resolve();
    if (writing) {
      again = true;
      return writing;
    }
    writing = (async () => {
      try {
        do {
          again = false;
          await writeOnce(exited).catch(onError);
        } while (again);
      } finally {
        writing = null;
      }
    })();
    return writing;
  };

  const timer = setInterval(() => void write(), options.intervalMs ?? 1000);
  Deno.unrefTimer(timer);
  void write();

  const close = async () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    if (writing) await writing;
    await writeOnce(true).catch(onError);
  };
  return {
    path,
    flush: () => write(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Checks that a multiprocess directory exists.
 *
 * @param dir the directory
 * @throws {TypeError} when it is not an existing directory
 */
export async function checkMultiprocessDir(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    throw new TypeError(
      `PROMETHEUS_MULTIPROC_DIR: cannot use '${dir}': ${
        err instanceof Error ? err.message : err
      }`,
    );
  }
  if (!info.isDirectory) {
    throw new TypeError(
      `PROMETHEUS_MULTIPROC_DIR: '${dir}' is not a directory`,
    );
  }
}

/**
 * Removes the metrics files (`*.json`, `*.json.tmp`) of earlier runs. Other
 * files are left alone, so a mistyped directory loses nothing else.
 *
 * @param dir the directory
 * @returns how many files were removed
 */
export async function wipeMultiprocessDir(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile) continue;
    if (!e.name.endsWith(SUFFIX) && !e.name.endsWith(TMP_SUFFIX)) continue;
    try {
      await Deno.remove(`${dir}/${e.name}`);
      n++;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return n;
}

/** Options of {@linkcode readMergedMetrics}. */
export interface MergeOptions {
  /** The reader's own registry, merged live instead of from its file. @default {null} */
  live?: client.Registry | null;
  /** A file to skip (the reader's own, when `live` is given). @default {null} */
  exclude?: string | null;
  /** A file not rewritten for this long counts as a dead process's, ms. @default {60000} */
  staleAfterMs?: number;
  /** Now, Unix ms. @default {Date.now()} */
  now?: number;
}

function isProcessFile(v: unknown): v is ProcessMetricsFile {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return o.version === 1 && Array.isArray(o.metrics) &&
    typeof o.updated === "number";
}

/**
 * Reads every process's file and merges them (with the live registry).
 *
 * @param dir the directory
 * @param options the reader's own registry and file, staleness
 * @returns a registry holding the merged series (serve its `metrics()`)
 */
export async function readMergedMetrics(
  dir: string,
  options: MergeOptions = {},
): Promise<client.Registry> {
  const now = options.now ?? Date.now();
  const staleAfter = options.staleAfterMs ?? 60_000;
  const exclude = options.exclude ?? null;
  const all: MetricJson[][] = [];
  if (options.live) all.push(await options.live.getMetricsAsJSON());
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.endsWith(SUFFIX)) continue;
    const path = `${dir}/${e.name}`;
    if (path === exclude) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(await Deno.readTextFile(path));
    } catch {
      continue; // removed meanwhile, or not ours
    }
    if (!isProcessFile(parsed)) continue;
    const dead = parsed.exited || now - parsed.updated > staleAfter;
    all.push(
      dead
        ? parsed.metrics.filter((m) => String(m.type) !== "gauge")
        : parsed.metrics,
    );
  }
  return client.AggregatorRegistry.aggregate(all);
}
