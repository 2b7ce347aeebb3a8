/**
 * The smallest pothead app: answers every request with `hello`. It measures
 * the cost of the path through the hub and the worker, not of a job.
 *
 * ```sh
 * deno run -A worker.ts --connect 127.0.0.1:4040 examples/hello.ts
 * ```
 *
 * @module
 */

/** Answers `hello` to any request. */
export default {
  fetch: (): Response => new Response("hello\n"),
};
