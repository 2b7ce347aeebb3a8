/**
 * Parsing of `HOST:PORT` flag values.
 *
 * @module
 */

/** A parsed listen or connect address. */
export interface HostPort {
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** Port number, 0–65535. */
  port: number;
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT`, `:PORT` (all interfaces) or a bare
 * `PORT`.
 *
 * @param text the value as written
 * @param defaultHost the host for `:PORT` and `PORT` @default {"0.0.0.0"}
 * @returns the address
 * @throws {SyntaxError} when the value is not an address
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./address.ts";
 * const a = parseHostPort("[::1]:4040");
 * if (a.hostname !== "::1" || a.port !== 4040) throw new Error();
 * ```
 */
export function parseHostPort(text: string, defaultHost = "0.0.0.0"): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]\s]*)):(\d{1,5})$/.exec(text) ??
    /^()()(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new SyntaxError(
      `Cannot parse address: current value is '${text}' (use HOST:PORT, e.g. 127.0.0.1:8080)`,
    );
  }
  return { hostname: m[1] || m[2] || defaultHost, port };
}

/**
 * Formats an address for logs and URLs (IPv6 in brackets).
 * @param a the address
 * @returns `host:port`
 */
export function formatHostPort(a: HostPort): string {
  return a.hostname.includes(":")
    ? `[${a.hostname}]:${a.port}`
    : `${a.hostname}:${a.port}`;
}
