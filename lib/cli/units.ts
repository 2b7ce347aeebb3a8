/**
 * Parsing of the duration and size values that flags and the configuration
 * file accept: `250ms`, `30s`, `5m`, `1h`; `64KiB`, `512MiB`, `1GB`.
 *
 * @module
 */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
  t: 1e12,
  tb: 1e12,
  tib: 1024 ** 4,
};

/**
 * Parses a duration such as `250ms`, `30s`, `1.5m` or `2h` into milliseconds.
 * A bare number is taken as seconds, as most operators would read it.
 *
 * @param text the value as written by the user
 * @returns milliseconds (non-negative)
 * @throws {SyntaxError} when the value is not a duration
 *
 * @example Parse a timeout
 * ```ts
 * import { parseDuration } from "./units.ts";
 * if (parseDuration("250ms") !== 250) throw new Error();
 * if (parseDuration("5m") !== 300_000) throw new Error();
 * ```
 */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m) {
    throw new SyntaxError(
      `Cannot parse duration: current value is '${text}' (use e.g. 250ms, 30s, 5m)`,
    );
  }
  const unit = (m[2] ?? "s").toLowerCase();
  return Math.round(Number(m[1]) * DURATION_UNITS[unit]);
}

/**
 * Parses a size such as `64KiB`, `512MiB`, `1GB` or `1048576` into bytes.
 *
 * @param text the value as written by the user
 * @returns bytes (a non-negative integer)
 * @throws {SyntaxError} when the value is not a size
 *
 * @example Parse a body limit
 * ```ts
 * import { parseSize } from "./units.ts";
 * if (parseSize("64KiB") !== 65536) throw new Error();
 * ```
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || factor === undefined) {
    throw new SyntaxError(
      `Cannot parse size: current value is '${text}' (use e.g. 64KiB, 512MiB, 1GB)`,
    );
  }
  return Math.floor(Number(m[1]) * factor);
}

/**
 * Formats milliseconds back into the shortest exact duration text.
 *
 * @param ms milliseconds
 * @returns text such as `30s` or `250ms`
 *
 * @example
 * ```ts
 * import { formatDuration } from "./units.ts";
 * if (formatDuration(30_000) !== "30s") throw new Error();
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
