/**
 * The small part of `Deno.Conn` and `Deno.Listener` the hub's worker port
 * uses, so that sockets that are not Deno's (a `node:tls` server, which can
 * require client certificates) can stand in for them.
 *
 * @module
 */

/**
 * A byte stream connection: what `WorkerConn` and the handshake need.
 * `Deno.Conn` satisfies it as it is.
 */
export interface ByteConn {
  /** Reads into `p`; resolves to the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves to the count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the connection; pending reads and writes fail or end. */
  close(): void;
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
}

/**
 * A listening socket that yields {@linkcode ByteConn}s. `Deno.Listener`
 * satisfies it as it is.
 */
export interface ByteListener extends AsyncIterable<ByteConn> {
  /** Where it listens. */
  readonly addr: Deno.Addr;
  /** Stops listening; the iteration ends (or throws `BadResource`). */
  close(): void;
}
