/**
 * A TLS listener that requires client certificates signed by a given CA
 * (mutual TLS). `Deno.listenTls` cannot ask for client certificates (an
 * option to that effect is silently ignored, PLATFORM.md "TLS");
 * `node:tls` `createServer({ requestCert, rejectUnauthorized, ca })` can, so
 * this adapts its sockets to the pull-style {@linkcode ByteConn} that the
 * worker port uses.
 *
 * @module
 */

import type { Socket } from "node:net";
import type * as tls from "node:tls";
import type { ByteConn, ByteListener } from "./byte_conn.ts";

/** Options of {@linkcode listenMutualTls}. */
export interface MutualTlsOptions {
  /** Interface address. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Server certificate chain (PEM). */
  cert: string;
  /** Server key (PEM). */
  key: string;
  /** CA certificate(s) (PEM) that client certificates must chain to. */
  ca: string;
  /** A TLS handshake not finished in this time is dropped. @default {10000} */
  handshakeTimeoutMs?: number;
  /**
   * Called when a client fails the TLS handshake (no certificate, an
   * untrusted one, not TLS at all, too slow). @default {() => {}}
   */
  onHandshakeError?(err: Error, remote: string): void;
}

/** Bytes buffered from a socket before it is paused (backpressure). */
const HIGH_WATER = 64 * 1024;

/**
 * A `node:net` / `node:tls` socket seen as a {@linkcode ByteConn}: data
 * events are queued (the socket pauses past {@linkcode HIGH_WATER}) and
 * handed out by `read`; `write` resolves once the bytes are flushed, as the
 * caller may then reuse its buffer.
 *
 * @example Wrap a socket
 * ```ts ignore
 * const conn = new NodeSocketConn(socket);
 * const n = await conn.read(new Uint8Array(4096));
 * ```
 */
export class NodeSocketConn implements ByteConn {
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  #socket: Socket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  /** @param socket a connected socket */
  constructor(socket: Socket) {
    this.#socket = socket;
    this.remoteAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "unknown",
      port: socket.remotePort ?? 0,
    };
    socket.on("data", (data: Uint8Array) => {
      this.#queue.push(data);
      this.#queued += data.length;
      if (this.#queued >= HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err: Error) => {
      this.#error ??= err;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /**
   * Reads queued bytes into `p`, waiting for some when none are queued.
   * @param p the buffer
   * @returns the count, or null at end of stream
   */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#queue.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      if (this.#wake) throw new Error("concurrent reads on one connection");
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let n = 0;
    while (n < p.length && this.#queue.length > 0) {
      const head = this.#queue[0];
      const take = Math.min(head.length, p.length - n);
      p.set(take === head.length ? head : head.subarray(0, take), n);
      n += take;
      if (take === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(take);
    }
    this.#queued -= n;
    if (this.#queued < HIGH_WATER && this.#socket.isPaused()) {
      this.#socket.resume();
    }
    return n;
  }

  /**
   * Writes all of `p` and waits until the socket took it.
   * @param p the bytes
   * @returns `p.length`
   */
  write(p: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#socket.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("connection closed"));
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (err?: Error | null) => {
        if (err) reject(err);
        else resolve(p.length);
      });
    });
  }

  /** Destroys the socket; a pending read resolves to end of stream. */
  close(): void {
    this.#ended = true;
    this.#socket.destroy();
    this.#notify();
  }
}

/**
 * Listens for TLS connections that present a client certificate signed by
 * `ca`; connections without one, or with another, never get through.
 *
 * @param options address, server certificate, client CA
 * @returns the listener, once it listens
 *
 * @example Require worker certificates
 * ```ts ignore
 * const listener = await listenMutualTls({
 *   hostname: "0.0.0.0", port: 4040, cert, key, ca,
 * });
 * for await (const conn of listener) handle(conn);
 * ```
 */
export async function listenMutualTls(
  options: MutualTlsOptions,
): Promise<ByteListener> {
  const accepted: ByteConn[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  // Loaded only here: the Node.js TLS layer costs an idle hub that does not
  // ask for client certificates megabytes of resident memory (issue 6).
  const { createServer } = await import("node:tls");
  const server = createServer({
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
  }, (socket) => {
    if (closed) {
      socket.destroy();
      return;
    }
    accepted.push(new NodeSocketConn(socket));
    notify();
  });
  server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    options.onHandshakeError?.(err, remote);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address();
  const addr: Deno.NetAddr = {
    transport: "tcp",
    hostname: typeof a === "object" && a ? a.address : options.hostname,
    port: typeof a === "object" && a ? a.port : options.port,
  };
  return {
    addr,
    close() {
      if (closed) return;
      closed = true;
      server.close();
      for (const conn of accepted.splice(0)) conn.close();
      notify();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const next = accepted.shift();
        if (next) {
          yield next;
          continue;
        }
        if (closed) return;
        await new Promise<void>((resolve) => wake = resolve);
      }
    },
  };
}
