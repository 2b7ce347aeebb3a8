/**
 * The error of a bad command line: the CLI prints its one-line message and
 * the usage on stderr, and exits with status 2.
 *
 * @module
 */

/** A bad flag or flag value. */
export class UsageError extends Error {
  /** @param message names the flag and what is wrong with it */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Wraps a value parser so that its error names the flag.
 * @param flag the flag, e.g. `--max-queue`
 * @param value the value given
 * @param parse the parser
 * @returns the parsed value
 * @throws {UsageError} naming the flag
 */
export function parseFlag<T>(
  flag: string,
  value: string,
  parse: (v: string) => T,
): T {
  try {
    return parse(value);
  } catch (err) {
    throw new UsageError(
      `${flag}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/**
 * Parses a positive integer flag value.
 * @param text the value
 * @returns the integer
 * @throws {SyntaxError} when it is not a positive integer
 */
export function parsePositiveInt(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new SyntaxError(
      `expected a positive integer, got '${text}'`,
    );
  }
  return Number(text);
}

/**
 * Turns `node:util` `parseArgs` errors into a {@linkcode UsageError}.
 * @param err the error thrown by parseArgs
 * @returns the usage error
 */
export function usageErrorFrom(err: unknown): UsageError {
  if (err instanceof UsageError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  // parseArgs says e.g. "Unknown option '--foo'. To specify a positional…";
  // keep the first sentence, which names the flag.
  return new UsageError(msg.split(". ")[0].replace(/\.$/, ""));
}
