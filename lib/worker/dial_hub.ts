/**
 * The worker's half of the PTTH handshake (DESIGN.md, "Worker channel"):
 * dial the hub, ask to reverse roles, wait for `101 Switching Protocols`.
 *
 * @module
 */

import { serializeRequestHead } from "../http1/head.ts";
import { ResponseParser } from "../http1/parser.ts";
import { concatBytes, ConnReader, writeAll } from "../net/conn_reader.ts";
import type { HubAddress } from "./hub_addresses.ts";

/** The path of the handshake. */
export const PTTH_PATH = "/.well-known/pothead/v1/ptth";

/** TLS settings toward the hub. */
export interface DialTls {
  /** Extra CA certificates (PEM). */
  caCerts?: string[];
  /** Client certificate (PEM), for mutual TLS. */
  cert?: string;
  /** Client key (PEM). */
  key?: string;
}

/** How to dial. */
export interface DialOptions {
  /** Pool to serve. */
  pool: string;
  /** `<host>/<pid>/<slot>`. */
  name: string;
  /** Token, or null. */
  token: string | null;
  /** TLS, or null for plain TCP. */
  tls: DialTls | null;
  /** Gives up after this long. @default {10000} */
  timeoutMs?: number;
}

/** The hub refused the handshake: a status and its explanation. */
export class HandshakeRefused extends Error {
  /** The hub's status (401 token, 404 pool, 400 bad request). */
  readonly status: number;
  /**
   * @param status the status
   * @param message the hub's explanation
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HandshakeRefused";
    this.status = status;
  }
}

/**
 * Connects to a hub and completes the handshake.
 * @param addr the hub address
 * @param options pool, name, token, TLS
 * @returns the connection and its reader (holding any bytes after the 101)
 * @throws {HandshakeRefused} when the hub refuses; network errors as they come
 */
export async function dialHub(
  addr: HubAddress,
  options: DialOptions,
): Promise<{ conn: Deno.Conn; reader: ConnReader }> {
  const conn: Deno.Conn = options.tls
    ? await Deno.connectTls({
      hostname: addr.ip,
      port: addr.port,
      caCerts: options.tls.caCerts,
      cert: options.tls.cert,
      key: options.tls.key,
    })
    : await Deno.connect({ hostname: addr.ip, port: addr.port });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, options.timeoutMs ?? 10_000);
  try {
    if (!options.tls) (conn as Deno.TcpConn).setNoDelay(true);
    const headers: [string, string][] = [
      ["Host", addr.port === 80 ? addr.name : `${addr.name}:${addr.port}`],
      ["Upgrade", "ptth"],
      ["Connection", "Upgrade"],
      ["ALPN", "http/1.1"],
      ["Pothead-Pool", options.pool],
      ["Pothead-Worker", options.name],
    ];
    if (options.token !== null) {
      headers.push(["Authorization", `Bearer ${options.token}`]);
    }
    await writeAll(
      conn,
      serializeRequestHead({ method: "GET", target: PTTH_PATH, headers }),
    );
    const reader = new ConnReader(conn);
    const parser = new ResponseParser({ maxHeadBytes: 8192 });
    parser.expect("GET");
    const body: Uint8Array[] = [];
    for (;;) {
      const chunk = await reader.read(4096);
      if (chunk === null) {
        throw new Error("the hub closed the connection during the handshake");
      }
      const { events, remaining } = parser.feed(chunk);
      const head = events.find((e) => e.type === "head");
      if (head && head.type === "head" && head.head.status === 101) {
        if (remaining) reader.unread(remaining);
        return { conn, reader };
      }
      for (const e of events) if (e.type === "data") body.push(e.data);
      if (
        head && head.type === "head" && events.some((e) => e.type === "end")
      ) {
        const text = new TextDecoder().decode(concatBytes(body)).trim();
        throw new HandshakeRefused(
          head.head.status,
          `hub ${addr.name}:${addr.port} refused the handshake with ${head.head.status}${
            text ? `: ${text}` : ""
          }`,
        );
      }
    }
  } catch (err) {
    try {
      conn.close();
    } catch { /* closed */ }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
