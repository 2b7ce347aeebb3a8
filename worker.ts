/**
 * `pothead-worker`: dials a pothead hub and serves its queued requests with
 * your app. This is also the `.` export of the JSR package `@pothead/worker`:
 * `deno run -A jsr:@pothead/worker ./app.ts` starts a worker, and importing it
 * gives app authors the types and helpers of `mod.ts`.
 *
 * @example An app
 * ```ts
 * import type { PotheadApp } from "./worker.ts";
 * export default ({
 *   fetch: (req) => new Response(`hello ${new URL(req.url).pathname}\n`),
 * } satisfies PotheadApp);
 * ```
 *
 * @module
 */

import { workerMain } from "./lib/worker/main.ts";

export * from "./mod.ts";

if (import.meta.main) {
  Deno.exit(await workerMain(Deno.args));
}
