/**
 * `pothead-hub`: the load-balancing hub. Consumers send requests to one port;
 * workers dial another and pull queued requests when they have room.
 *
 * Run it with `deno run -A hub.ts --help`.
 *
 * @module
 */

import { hubMain } from "./lib/hub/main.ts";

export { hubMain } from "./lib/hub/main.ts";

if (import.meta.main) {
  Deno.exit(await hubMain(Deno.args));
}
