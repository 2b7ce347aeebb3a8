/**
 * Reading the file a flag names (a token, a certificate, a key), with an
 * error that names the flag.
 *
 * @module
 */

import { UsageError } from "./usage_error.ts";

/**
 * Reads a text file named by a flag.
 *
 * @param flag the flag, e.g. `--token-file`
 * @param path the path given
 * @returns the file's text
 * @throws {UsageError} naming the flag, the path and why it cannot be read
 *
 * @example
 * ```ts
 * import { readFlagFile } from "./read_flag_file.ts";
 * import { UsageError } from "./usage_error.ts";
 * try {
 *   await readFlagFile("--token-file", "/nonexistent/token");
 * } catch (err) {
 *   if (!(err instanceof UsageError) || !err.message.startsWith("--token-file")) throw err;
 * }
 * ```
 */
export async function readFlagFile(
  flag: string,
  path: string,
): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(
      `${flag}: cannot read '${path}': ${
        err instanceof Error ? err.message : err
      }`,
    );
  }
}
