/**
 * The app contract (DESIGN.md, "App contract"): the same shape as a
 * `deno serve` module, so an existing Deno or Hono app runs unchanged.
 *
 * @module
 */

import type { SlotTicket } from "../gating/types.ts";

/** What the worker tells the app about a job, beside the request. */
export interface JobInfo {
  /** The consumer's address, as the hub saw it (last `X-Forwarded-For` entry). */
  consumerAddress: string;
  /** The request id (`X-Request-Id`, kept or made by the hub). */
  requestId: string;
  /** The pool this worker serves. */
  pool: string;
  /** The hub address the job came from. */
  hub: string;
  /** This worker's name, `<host>/<pid>/<slot>`. */
  worker: string;
  /**
   * Lowers the CPUs a gate reserved for this job (see `waitForIdleCpu` with
   * `keepReservation`); a no-op without such a gate.
   */
  resetReservation(cpus: number): void;
}

/** The request handler of an app. */
export type FetchHandler = (
  req: Request,
  info: JobInfo,
) => Response | Promise<Response>;

/** An app: a `fetch` handler, and optionally its own admission gate. */
export interface PotheadApp {
  /** Answers one request. A thrown error becomes a 500; the slot lives on. */
  fetch: FetchHandler;
  /**
   * For `--poll-jobs`: resolves when the app can take one more job. The
   * ticket's `requestReceived` and `done` are called around the job.
   */
  waitForSlot?(signal: AbortSignal): Promise<SlotTicket | void>;
}

/**
 * The built-in demo app: answers with a short text naming the worker, after
 * `?ms=` milliseconds of pretend work (at most 60 s).
 */
export const demoApp: PotheadApp = {
  async fetch(req, info) {
    const url = new URL(req.url);
    const ms = Math.min(
      60_000,
      Math.max(0, Number(url.searchParams.get("ms")) || 0),
    );
    if (ms > 0) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        req.signal.addEventListener("abort", () => {
          clearTimeout(t);
          reject(req.signal.reason);
        }, { once: true });
      });
    }
    return new Response(
      `hello from pothead worker ${info.worker}: ${req.method} ${url.pathname}${url.search}\n`,
      { headers: { "content-type": "text/plain; charset=utf-8" } },
    );
  },
};

/**
 * Turns a loaded module into an app: `export default { fetch }`, a default
 * function, or the named export after `:` in the specifier.
 *
 * @param mod the module namespace
 * @param exportName the export to use @default {"default"}
 * @param specifier for error messages
 * @returns the app
 * @throws {TypeError} naming what the module exports instead
 */
export function appFromModule(
  mod: Record<string, unknown>,
  exportName = "default",
  specifier = "the module",
): PotheadApp {
  const value = mod[exportName];
  if (typeof value === "function") {
    return { fetch: value as FetchHandler };
  }
  if (
    value !== null && typeof value === "object" &&
    typeof (value as { fetch?: unknown }).fetch === "function"
  ) {
    const app = value as PotheadApp;
    return {
      fetch: app.fetch.bind(app),
      waitForSlot: app.waitForSlot?.bind(app),
    };
  }
  const names = Object.keys(mod).join(", ") || "nothing";
  throw new TypeError(
    `${specifier}: export '${exportName}' is not an app; export default { fetch(req) { … } } or a function (the module exports: ${names})`,
  );
}

/**
 * Loads an app from a module specifier: `./app.ts`, `./app.ts:exportName`,
 * `npm:…`, `jsr:…`, `https://…`, or an absolute path.
 *
 * @param spec the specifier as given on the command line
 * @param base resolves relative paths @default {the current directory}
 * @returns the app
 */
export async function loadApp(
  spec: string,
  base = `file://${Deno.cwd()}/`,
): Promise<PotheadApp> {
  // `module.ts:exportName`: split only after a module file name, so the `:`
  // of a scheme (`npm:x`, `https://…`) or a drive letter is never taken.
  const m = /^(.+\.(?:ts|tsx|mts|js|jsx|mjs)):([A-Za-z_$][\w$]*)$/.exec(spec);
  const [path, exportName] = m ? [m[1], m[2]] : [spec, "default"];
  const url = /^[a-z][a-z0-9+.-]+:/i.test(path) && !/^[a-z]:[\\/]/i.test(path)
    ? path
    : new URL(path, base).href;
  const mod = await import(url);
  return appFromModule(mod, exportName, spec);
}
