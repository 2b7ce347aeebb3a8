/**
 * A TCP proxy for fault injection: it sits between workers and the hub's
 * worker port and, per connection, passes bytes through, delays them,
 * truncates the stream (a clean close), stalls one direction (bytes stop,
 * the connection stays open), or resets the connection (RST), after a given
 * number of bytes in a given direction.
 *
 * Built on `node:net` because a reset needs `resetAndDestroy()`.
 *
 * @module
 */

import * as net from "node:net";

/** Which way bytes flow: client (worker) to server (hub), or back. */
export type Direction = "to-server" | "to-client";

/** What happens to one proxied connection. */
export type Fault =
  | { kind: "pass" }
  | { kind: "delay"; ms: number }
  | { kind: "truncate"; after: number; direction: Direction }
  | { kind: "stall"; after: number; direction: Direction }
  | { kind: "reset"; after: number; direction: Direction };

/** Picks the fault of each new connection. */
export type FaultPolicy = (index: number) => Fault;

interface Pair {
  client: net.Socket;
  server: net.Socket;
  fault: Fault;
  done: boolean;
}

/** A running fault proxy. */
export class FaultProxy implements AsyncDisposable {
  /** `127.0.0.1:<port>` to give workers as `--connect`. */
  readonly addr: string;
  /** Connections by the fault they got. */
  readonly counts: Record<Fault["kind"], number> = {
    pass: 0,
    delay: 0,
    truncate: 0,
    stall: 0,
    reset: 0,
  };
  /** Faults that actually fired (their byte count was reached). */
  readonly fired: Record<Fault["kind"], number> = {
    pass: 0,
    delay: 0,
    truncate: 0,
    stall: 0,
    reset: 0,
  };
  #server: net.Server;
  #pairs = new Set<Pair>();
  #policy: FaultPolicy;
  #next = 0;

  private constructor(server: net.Server, addr: string, policy: FaultPolicy) {
    this.#server = server;
    this.addr = addr;
    this.#policy = policy;
  }

  /**
   * Starts a proxy on a free loopback port.
   * @param target the hub's worker address, `host:port`
   * @param policy the fault of each new connection @default {() => ({ kind: "pass" })}
   * @returns the proxy
   */
  static async start(
    target: string,
    policy: FaultPolicy = () => ({ kind: "pass" }),
  ): Promise<FaultProxy> {
    const i = target.lastIndexOf(":");
    const host = target.slice(0, i);
    const port = Number(target.slice(i + 1));
    let proxy: FaultProxy | null = null;
    const server = net.createServer((client) => {
      proxy!.#accept(client, host, port);
    });
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve())
    );
    const a = server.address() as net.AddressInfo;
    proxy = new FaultProxy(server, `127.0.0.1:${a.port}`, policy);
    return proxy;
  }

  /** Replaces the policy for connections made from now on. */
  set policy(policy: FaultPolicy) {
    this.#policy = policy;
  }

  /** Connections open now. */
  get open(): number {
    return this.#pairs.size;
  }

  #accept(client: net.Socket, host: string, port: number): void {
    const fault = this.#policy(this.#next++);
    this.counts[fault.kind]++;
    const server = net.connect(port, host);
    const pair: Pair = { client, server, fault, done: false };
    this.#pairs.add(pair);
    client.setNoDelay(true);
    server.setNoDelay(true);
    const finish = () => {
      if (pair.done) return;
      pair.done = true;
      this.#pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    for (const s of [client, server]) {
      s.on("error", finish);
      s.on("close", finish);
    }
    this.#pipe(pair, client, server, "to-server");
    this.#pipe(pair, server, client, "to-client");
  }

  #pipe(
    pair: Pair,
    src: net.Socket,
    dst: net.Socket,
    direction: Direction,
  ): void {
    const f = pair.fault;
    let left =
      f.kind !== "pass" && f.kind !== "delay" && f.direction === direction
        ? f.after
        : Infinity;
    let chain = Promise.resolve();
    let stalled = false;
    const write = (chunk: Uint8Array) => {
      if (pair.done || chunk.length === 0) return;
      if (!dst.write(chunk)) {
        src.pause();
        dst.once("drain", () => {
          if (!stalled) src.resume();
        });
      }
    };
    src.on("data", (data: Uint8Array) => {
      if (pair.done || stalled) return;
      let chunk = data;
      let fire = false;
      if (chunk.length >= left) {
        chunk = chunk.subarray(0, left);
        fire = true;
      }
      left -= chunk.length;
      if (f.kind === "delay") {
        src.pause();
        chain = chain.then(() =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              write(chunk);
              if (!pair.done) src.resume();
              resolve();
            }, f.ms)
          )
        );
        return;
      }
      write(chunk);
      if (!fire) return;
      this.fired[f.kind]++;
      switch (f.kind) {
        case "truncate":
          // A clean close of both sides once the bytes before it are out.
          pair.done = true;
          this.#pairs.delete(pair);
          dst.end();
          src.end();
          setTimeout(() => {
            src.destroy();
            dst.destroy();
          }, 50);
          break;
        case "stall":
          // Nothing more this way; the sender's writes back up.
          stalled = true;
          src.pause();
          break;
        case "reset":
          pair.done = true;
          this.#pairs.delete(pair);
          for (const s of [src, dst]) reset(s);
          break;
      }
    });
    src.on("end", () => {
      chain = chain.then(() => {
        if (!pair.done && !stalled) dst.end();
      });
    });
  }

  /** Resets every connection open now (workers will dial again). */
  resetAll(): void {
    for (const pair of [...this.#pairs]) {
      pair.done = true;
      this.#pairs.delete(pair);
      for (const s of [pair.client, pair.server]) reset(s);
    }
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Closes the proxy. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Closes a socket with a TCP reset (RST), or destroys it if it cannot. */
function reset(s: net.Socket): void {
  try {
    (s as net.Socket & { resetAndDestroy(): void }).resetAndDestroy();
  } catch {
    s.destroy();
  }
}
