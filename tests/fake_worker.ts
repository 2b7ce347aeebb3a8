/**
 * A fake worker for tests: it does the PTTH handshake like a real one, then
 * lets the test read the hub's requests and answer with any bytes at all.
 *
 * @module
 */

import type { RequestHead } from "../lib/http1/head.ts";
import { RequestParser } from "../lib/http1/parser.ts";
import { ConnReader } from "../lib/net/conn_reader.ts";

const encoder = new TextEncoder();

/** Options of {@linkcode FakeWorker.connect}. */
export interface FakeWorkerOptions {
  /** Pool to join. @default {"default"} */
  pool?: string;
  /** `Pothead-Worker` name. @default {"fake/1/0"} */
  name?: string;
  /** Bearer token. @default {null} */
  token?: string | null;
}

/** A request the hub sent, with its body. */
export interface FakeRequest {
  /** The head as parsed. */
  head: RequestHead;
  /** The body bytes. */
  body: Uint8Array;
  /** A field by name (first occurrence), or null. */
  header(name: string): string | null;
}

/** A worker connection driven byte by byte by a test. */
export class FakeWorker implements AsyncDisposable {
  /** The socket. */
  readonly conn: Deno.TcpConn;
  #reader: ConnReader;
  #closed = false;
  /** Resolves when the hub closed the connection (a read saw its end). */
  readonly hubClosed: Promise<void>;
  #markHubClosed!: () => void;

  private constructor(conn: Deno.TcpConn, reader: ConnReader) {
    this.conn = conn;
    this.#reader = reader;
    this.hubClosed = new Promise((r) => this.#markHubClosed = r);
  }

  /**
   * Dials the hub's worker port and completes the handshake.
   * @param workerAddr `host:port`
   * @param options pool, name, token
   * @returns the connected fake worker
   */
  static async connect(
    workerAddr: string,
    options: FakeWorkerOptions = {},
  ): Promise<FakeWorker> {
    const i = workerAddr.lastIndexOf(":");
    const conn = await Deno.connect({
      hostname: workerAddr.slice(0, i),
      port: Number(workerAddr.slice(i + 1)),
    });
    const lines = [
      "GET /.well-known/pothead/v1/ptth HTTP/1.1",
      `Host: ${workerAddr}`,
      "Upgrade: ptth",
      "Connection: Upgrade",
      `Pothead-Pool: ${options.pool ?? "default"}`,
      `Pothead-Worker: ${options.name ?? "fake/1/0"}`,
      ...(options.token ? [`Authorization: Bearer ${options.token}`] : []),
      "",
      "",
    ];
    await conn.write(encoder.encode(lines.join("\r\n")));
    const reader = new ConnReader(conn);
    let text = "";
    for (;;) {
      const chunk = await reader.read(1024);
      if (chunk === null) {
        conn.close();
        throw new Error(`hub closed the handshake: ${text}`);
      }
      text += new TextDecoder("latin1").decode(chunk);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        if (!text.startsWith("HTTP/1.1 101 ")) {
          conn.close();
          throw new Error(`handshake refused: ${text}`);
        }
        const rest = chunk.subarray(chunk.length - (text.length - end - 4));
        if (rest.length > 0) reader.unread(rest);
        return new FakeWorker(conn, reader);
      }
    }
  }

  /**
   * Reads the hub's next request (head and body).
   * @param timeoutMs gives up (and closes) after this long @default {10000}
   * @returns the request, or null when the hub closed the connection
   */
  async nextRequest(timeoutMs = 10_000): Promise<FakeRequest | null> {
    const parser = new RequestParser();
    let head: RequestHead | null = null;
    const body: Uint8Array[] = [];
    const timer = setTimeout(() => this.close(), timeoutMs);
    try {
      for (;;) {
        const chunk = await this.#reader.read().catch(() => null);
        if (chunk === null) {
          this.#markHubClosed();
          return null;
        }
        const { events, remaining } = parser.feed(chunk);
        if (remaining) this.#reader.unread(remaining);
        for (const ev of events) {
          if (ev.type === "head") head = ev.head;
          else if (ev.type === "data") body.push(ev.data.slice());
          else {
            const h = head!;
            const all = new Uint8Array(body.reduce((n, b) => n + b.length, 0));
            let off = 0;
            for (const b of body) {
              all.set(b, off);
              off += b.length;
            }
            return {
              head: h,
              body: all,
              header(name) {
                const lower = name.toLowerCase();
                return h.headers.find(([n]) => n.toLowerCase() === lower)
                  ?.[1] ?? null;
              },
            };
          }
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits until the hub closes the connection, discarding what it sends.
   * @param timeoutMs the bound @default {10000}
   * @returns true when the hub closed it, false on timeout
   */
  async waitHubClose(timeoutMs = 10_000): Promise<boolean> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, timeoutMs);
    try {
      for (;;) {
        const chunk = await this.#reader.read().catch(() => null);
        if (chunk === null) {
          if (!timedOut) this.#markHubClosed();
          return !timedOut;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Writes bytes (a string is sent as latin1).
   * @param data the bytes
   * @returns false when the connection is gone
   */
  async send(data: string | Uint8Array): Promise<boolean> {
    const bytes = typeof data === "string" ? latin1(data) : data;
    try {
      let off = 0;
      while (off < bytes.length) {
        off += await this.conn.write(bytes.subarray(off));
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* closed */ }
  }

  /** Closes the socket. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * Encodes a string one byte per character (latin1).
 * @param s the text
 * @returns the bytes
 */
export function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}
