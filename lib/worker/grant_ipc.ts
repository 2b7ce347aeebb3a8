/**
 * The control channel between a `--processes` parent and its children: one
 * Unix socket per host, one connection per child, newline-delimited JSON.
 *
 * With `--poll-jobs`, admission is decided once for the host by the parent
 * (issue 3): each child's gate is a {@linkcode ParentLink.gate} that asks the
 * parent for a grant; the parent's {@linkcode GrantBroker} waits on the real
 * gate and answers `grant`; the child reports the ticket's
 * `requestReceived`, `resetReservation` and `done` back. Without `--poll-jobs` the channel only says hello, and lets a
 * child notice that its parent is gone (end of stream) so it drains instead
 * of running on as an orphan.
 *
 * ```
 * child → parent   {"t":"hello","index":0,"pid":123}
 *                  {"t":"want","id":1}            ask for one pull
 *                  {"t":"cancel","id":1}          no longer wanted
 *                  {"t":"received","id":1,"method":"GET","url":"…","headers":[["k","v"]]}
 *                  {"t":"reset","id":1,"cpus":0.5}
 *                  {"t":"done","id":1}
 * parent → child   {"t":"grant","id":1}
 *                  {"t":"deny","id":1,"reason":"…"}
 * ```
 *
 * A grant that crosses a cancel is answered with `done`. When a child's
 * connection ends, the parent drops its wants and ends its tickets, so a
 * child that dies never holds capacity.
 *
 * @module
 */

import type { Gate, SlotTicket } from "../gating/types.ts";
import { writeAll } from "../net/conn_reader.ts";

/** A message from a child to the parent. */
export type ChildMessage =
  | { t: "hello"; index: number; pid: number }
  | { t: "want"; id: number }
  | { t: "cancel"; id: number }
  | {
    t: "received";
    id: number;
    method: string;
    url: string;
    headers: [string, string][];
  }
  | { t: "reset"; id: number; cpus: number }
  | { t: "done"; id: number };

/** A message from the parent to a child. */
export type ParentMessage =
  | { t: "grant"; id: number }
  | { t: "deny"; id: number; reason: string };

/** The longest line accepted (a `received` carries the request's headers). */
export const MAX_LINE = 1024 * 1024;

const encoder = new TextEncoder();

/**
 * Newline-delimited JSON over a connection: ordered writes, and lines read
 * with a hard cap on their length.
 */
export class LineChannel<In, Out> {
  #conn: Deno.Conn;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  /** @param conn the connection */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /**
   * Sends one message; writes never interleave. Errors (the peer is gone)
   * are swallowed: the reader sees the end.
   * @param msg the message
   */
  send(msg: Out): void {
    if (this.#closed) return;
    const bytes = encoder.encode(JSON.stringify(msg) + "\n");
    this.#writing = this.#writing.then(() => writeAll(this.#conn, bytes))
      .catch(() => {});
  }

  /**
   * The messages, until the peer closes or sends something malformed.
   * @returns an async iterator of messages
   * @throws {RangeError} for a line longer than {@linkcode MAX_LINE}
   */
  async *messages(): AsyncGenerator<In> {
    const decoder = new TextDecoder();
    let buf = "";
    const chunk = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await this.#conn.read(chunk);
      } catch {
        return;
      }
      if (n === null) return;
      buf += decoder.decode(chunk.subarray(0, n), { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim() === "") continue;
        yield JSON.parse(line) as In;
      }
      if (buf.length > MAX_LINE) {
        throw new RangeError(
          `Cannot read control message: line longer than ${MAX_LINE} bytes`,
        );
      }
    }
  }

  /** Closes the connection (after pending writes). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writing;
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

/** Options of {@linkcode GrantBroker}. */
export interface GrantBrokerOptions {
  /** The host's gate, or null when the children do not poll. */
  gate: Gate | null;
  /** A child said hello. @default {undefined} */
  onHello?(index: number, pid: number): void;
}

/** One child's connection, as the broker sees it. */
interface ChildState {
  ch: LineChannel<ChildMessage, ParentMessage>;
  /** Its wants not yet granted, oldest first. */
  wants: { id: number; since: number }[];
  /** Tickets granted and not yet done, by id. */
  tickets: Map<number, SlotTicket>;
}

/**
 * The parent's side of the channel: one loop waits on the host's gate
 * while any child wants a pull, and gives each admission to the waiting
 * child with the fewest jobs granted (then the one waiting longest). A
 * child whose event loop is busy with a job would sit on a grant until the
 * job ends; the fewest-jobs rule sends it to an idle child instead.
 *
 * Waits end when the child cancels them (a draining child does) or its
 * connection ends, so a shutdown needs nothing from the parent.
 *
 * @example
 * ```ts ignore
 * import { GrantBroker } from "./grant_ipc.ts";
 * import { maxConcurrent } from "../gating/max_concurrent.ts";
 * const broker = new GrantBroker({ gate: maxConcurrent(4) });
 * const listener = Deno.listen({ transport: "unix", path: "/tmp/ctl.sock" });
 * for await (const conn of listener) broker.serve(conn);
 * ```
 */
export class GrantBroker {
  #gate: Gate | null;
  #onHello?: (index: number, pid: number) => void;
  #children = new Set<ChildState>();
  #seq = 0;
  #waiting: AbortController | null = null;

  /** @param options the host's gate and hooks */
  constructor(options: GrantBrokerOptions) {
    this.#gate = options.gate;
    this.#onHello = options.onHello;
  }

  /** Pulls wanted by every child now. */
  get wanted(): number {
    let n = 0;
    for (const c of this.#children) n += c.wants.length;
    return n;
  }

  /**
   * Serves one child's connection until it ends; then its waits are dropped
   * and its tickets done, so a child that dies never holds capacity.
   * @param conn the accepted connection
   * @returns resolves when the connection has ended
   */
  async serve(conn: Deno.Conn): Promise<void> {
    const child: ChildState = {
      ch: new LineChannel<ChildMessage, ParentMessage>(conn),
      wants: [],
      tickets: new Map(),
    };
    this.#children.add(child);
    try {
      for await (const msg of child.ch.messages()) {
        switch (msg.t) {
          case "hello":
            this.#onHello?.(msg.index, msg.pid);
            break;
          case "want":
            if (!this.#gate) {
              child.ch.send({
                t: "deny",
                id: msg.id,
                reason: "this worker does not poll",
              });
              break;
            }
            child.wants.push({ id: msg.id, since: this.#seq++ });
            this.#run();
            break;
          case "cancel":
            child.wants = child.wants.filter((w) => w.id !== msg.id);
            this.#idle();
            break;
          case "received":
            child.tickets.get(msg.id)?.requestReceived?.(requestOf(msg));
            break;
          case "reset":
            child.tickets.get(msg.id)?.resetReservation?.(msg.cpus);
            break;
          case "done": {
            const ticket = child.tickets.get(msg.id);
            child.tickets.delete(msg.id);
            ticket?.done?.();
            break;
          }
        }
      }
    } catch {
      // A malformed line: treat the child as gone.
    } finally {
      this.#children.delete(child);
      child.wants = [];
      this.#idle();
      for (const ticket of child.tickets.values()) ticket.done?.();
      child.tickets.clear();
      await child.ch.close();
    }
  }

  /** Stops waiting on the gate when nobody wants a pull any more. */
  #idle(): void {
    if (this.wanted === 0) {
      this.#waiting?.abort(new DOMException("no pull wanted", "AbortError"));
    }
  }

  /** The admission loop: one wait on the gate at a time, while wanted. */
  #run(): void {
    const gate = this.#gate;
    if (!gate || this.#waiting) return;
    const ac = new AbortController();
    this.#waiting = ac;
    (async () => {
      try {
        while (this.wanted > 0 && !ac.signal.aborted) {
          let ticket: SlotTicket;
          try {
            ticket = await gate(ac.signal);
          } catch (err) {
            if (ac.signal.aborted) return;
            // A failing gate: deny the oldest want, so the child backs off.
            const child = this.#pick();
            const want = child?.wants.shift();
            if (child && want) {
              child.ch.send({
                t: "deny",
                id: want.id,
                reason: err instanceof Error ? err.message : String(err),
              });
            }
            continue;
          }
          const child = this.#pick();
          const want = child?.wants.shift();
          if (!child || !want) {
            ticket.done?.(); // every want was cancelled meanwhile
            return;
          }
          child.tickets.set(want.id, ticket);
          child.ch.send({ t: "grant", id: want.id });
        }
      } finally {
        if (this.#waiting === ac) this.#waiting = null;
        // A want that came in while this loop was ending starts a new one.
        if (this.wanted > 0) this.#run();
      }
    })();
  }

  /** The waiting child with the fewest tickets, then the oldest want. */
  #pick(): ChildState | null {
    let best: ChildState | null = null;
    for (const c of this.#children) {
      if (c.wants.length === 0) continue;
      if (
        !best || c.tickets.size < best.tickets.size ||
        (c.tickets.size === best.tickets.size &&
          c.wants[0].since < best.wants[0].since)
      ) best = c;
    }
    return best;
  }
}

/**
 * The request as the parent's gate sees it in `requestReceived`: method, URL
 * and headers, no body (the body stays with the child).
 */
function requestOf(
  msg: { method: string; url: string; headers: [string, string][] },
): Request {
  try {
    return new Request(msg.url, { method: msg.method, headers: msg.headers });
  } catch {
    // A method or header the Request constructor refuses (CONNECT, TRACE).
    return new Request(msg.url);
  }
}

/**
 * A child's link to its parent.
 *
 * @example
 * ```ts ignore
 * import { ParentLink } from "./grant_ipc.ts";
 * const link = await ParentLink.connect(Deno.env.get("POTHEAD_CONTROL_SOCKET")!);
 * link.hello(0);
 * const ticket = await link.gate(new AbortController().signal);
 * ticket.done?.();
 * ```
 */
export class ParentLink {
  #ch: LineChannel<ParentMessage, ChildMessage>;
  #nextId = 1;
  #pending = new Map<
    number,
    { resolve(id: number): void; reject(err: unknown): void }
  >();
  #gone = false;
  /** Resolves when the parent closed the channel (or went away). */
  readonly closed: Promise<void>;

  /** @param conn a connection to the parent's control socket */
  constructor(conn: Deno.Conn) {
    this.#ch = new LineChannel(conn);
    this.closed = this.#read();
  }

  /**
   * Connects to the parent's control socket.
   * @param path the socket path (`POTHEAD_CONTROL_SOCKET`)
   * @returns the link
   */
  static async connect(path: string): Promise<ParentLink> {
    return new ParentLink(await Deno.connect({ transport: "unix", path }));
  }

  async #read(): Promise<void> {
    try {
      for await (const msg of this.#ch.messages()) {
        const p = this.#pending.get(msg.id);
        if (!p) {
          // A grant that crossed our cancel: give it back at once.
          if (msg.t === "grant") this.#ch.send({ t: "done", id: msg.id });
          continue;
        }
        this.#pending.delete(msg.id);
        if (msg.t === "grant") p.resolve(msg.id);
        else p.reject(new Error(`the parent denied a pull: ${msg.reason}`));
      }
    } catch { /* malformed: the parent is broken, treat it as gone */ }
    this.#gone = true;
    for (const p of this.#pending.values()) {
      p.reject(new Error("the parent process is gone"));
    }
    this.#pending.clear();
  }

  /**
   * Introduces this child.
   * @param index the child's number
   */
  hello(index: number): void {
    this.#ch.send({ t: "hello", index, pid: Deno.pid });
  }

  /**
   * The gate of a polling child: a grant from the parent.
   * @param signal aborts the wait
   * @returns a ticket whose calls go to the parent's ticket
   */
  gate: Gate = (signal) => {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#gone) {
      return Promise.reject(new Error("the parent process is gone"));
    }
    const id = this.#nextId++;
    return new Promise<SlotTicket>((resolve, reject) => {
      const onAbort = () => {
        if (!this.#pending.delete(id)) return;
        this.#ch.send({ t: "cancel", id });
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        resolve: () => {
          signal.removeEventListener("abort", onAbort);
          resolve(this.#ticket(id));
        },
        reject: (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      });
      this.#ch.send({ t: "want", id });
    });
  };

  #ticket(id: number): SlotTicket {
    let finished = false;
    return {
      requestReceived: (req) => {
        if (finished) return;
        this.#ch.send({
          t: "received",
          id,
          method: req.method,
          url: req.url,
          headers: [...req.headers],
        });
      },
      resetReservation: (cpus) => {
        if (!finished) this.#ch.send({ t: "reset", id, cpus });
      },
      done: () => {
        if (finished) return;
        finished = true;
        this.#ch.send({ t: "done", id });
      },
    };
  }

  /** Closes the link. */
  close(): Promise<void> {
    return this.#ch.close();
  }
}
