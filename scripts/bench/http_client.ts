/**
 * A minimal HTTP/1.1 client over raw TCP, for measuring: one request at a time
 * per connection, keep-alive, Content-Length / chunked / close-delimited
 * bodies, bodies counted without being kept (for GiB downloads), request
 * bodies streamed from chunks. No hidden pool, no hidden queue: the load
 * generator decides how many connections exist.
 *
 * @module
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A response as measured. */
export interface HttpResult {
  status: number;
  headers: Map<string, string>;
  /** Body bytes received. */
  bodyBytes: number;
  /** The body, when asked to keep it. */
  body?: Uint8Array;
}

/** What to send. */
export interface HttpRequest {
  method?: string;
  path: string;
  host?: string;
  headers?: [string, string][];
  /** A small body, or chunks streamed with a Content-Length of `bodyLength`. */
  body?: Uint8Array | { chunks: Iterable<Uint8Array>; length: number };
  /** Keep the body bytes in the result (default false: count only). */
  keepBody?: boolean;
}

/** Writes all bytes (Deno's write may be partial). */
export async function writeAll(
  conn: Deno.Conn,
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** One HTTP/1.1 client connection. */
export class HttpConnection {
  readonly conn: Deno.TcpConn;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #eof = false;
  /** False once the server asked to close or framing ran to EOF. */
  reusable = true;
  closed = false;

  constructor(conn: Deno.TcpConn, bufferSize = 64 * 1024) {
    this.conn = conn;
    this.#buf = new Uint8Array(bufferSize);
  }

  /** Connects to host:port. */
  static async open(
    host: string,
    port: number,
    bufferSize?: number,
  ): Promise<HttpConnection> {
    const conn = await Deno.connect({ hostname: host, port, transport: "tcp" });
    conn.setNoDelay(true);
    return new HttpConnection(conn, bufferSize);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reusable = false;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  /** Reads more bytes into the buffer; false on EOF. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#start > 0 && this.#start === this.#end) {
      this.#start = this.#end = 0;
    }
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
    }
    const n = await this.conn.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /** Index just past the next CRLF at or after `from`, or -1. */
  #findCrlf(from: number): number {
    for (let i = from; i + 1 < this.#end; i++) {
      if (this.#buf[i] === 13 && this.#buf[i + 1] === 10) return i + 2;
    }
    return -1;
  }

  async #readLine(): Promise<string> {
    let scanFrom = this.#start;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const at = this.#findCrlf(scanFrom);
      if (at >= 0) {
        const line = dec.decode(this.#buf.subarray(this.#start, at - 2));
        this.#start = at;
        return line;
      }
      scanFrom = Math.max(this.#start, this.#end - 1);
      const before = this.#start;
      if (!(await this.#fill())) throw new Error("connection closed mid-line");
      scanFrom -= before - this.#start; // buffer may have been compacted
    }
    throw new Error("line too long");
  }

  /** Consumes exactly n body bytes; keeps them when `keep` is given. */
  async #consume(n: number, keep?: Uint8Array[]): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#start === this.#end && !(await this.#fill())) {
        throw new Error("connection closed mid-body");
      }
      const take = Math.min(left, this.#end - this.#start);
      if (keep) keep.push(this.#buf.slice(this.#start, this.#start + take));
      this.#start += take;
      left -= take;
    }
  }

  /** Sends one request and reads the whole response. */
  async request(req: HttpRequest): Promise<HttpResult> {
    const method = req.method ?? "GET";
    let head = `${method} ${req.path} HTTP/1.1\r\nHost: ${
      req.host ?? "bench"
    }\r\n`;
    for (const [k, v] of req.headers ?? []) head += `${k}: ${v}\r\n`;
    const body = req.body;
    if (body instanceof Uint8Array) {
      head += `Content-Length: ${body.length}\r\n\r\n`;
      const h = enc.encode(head);
      const all = new Uint8Array(h.length + body.length);
      all.set(h);
      all.set(body, h.length);
      await writeAll(this.conn, all);
    } else if (body) {
      head += `Content-Length: ${body.length}\r\n\r\n`;
      await writeAll(this.conn, enc.encode(head));
      // The whole body goes out before the response is read (the upload
      // endpoint answers only after reading it all).
      let sent = 0;
      for (const chunk of body.chunks) {
        await writeAll(this.conn, chunk);
        sent += chunk.length;
      }
      if (sent !== body.length) {
        throw new Error(`sent ${sent} of ${body.length} bytes`);
      }
    } else {
      head += method === "POST" || method === "PUT"
        ? "Content-Length: 0\r\n\r\n"
        : "\r\n";
      await writeAll(this.conn, enc.encode(head));
    }
    return await this.#readResponse(method, req.keepBody ?? false);
  }

  async #readResponse(method: string, keepBody: boolean): Promise<HttpResult> {
    let status = 0;
    let headers = new Map<string, string>();
    // skip 1xx
    for (let guard = 0; guard < 10; guard++) {
      const statusLine = await this.#readLine();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      if (!m) throw new Error(`bad status line: ${statusLine.slice(0, 80)}`);
      status = Number(m[1]);
      headers = new Map();
      for (let i = 0; i < 200; i++) {
        const line = await this.#readLine();
        if (line === "") break;
        const c = line.indexOf(":");
        if (c > 0) {
          headers.set(
            line.slice(0, c).trim().toLowerCase(),
            line.slice(c + 1).trim(),
          );
        }
      }
      if (status >= 200 || status === 101) break;
    }
    const keep: Uint8Array[] | undefined = keepBody ? [] : undefined;
    let bodyBytes = 0;
    const te = headers.get("transfer-encoding")?.toLowerCase();
    const cl = headers.get("content-length");
    if (headers.get("connection")?.toLowerCase().includes("close")) {
      this.reusable = false;
    }
    if (
      method === "HEAD" || status === 204 || status === 304 || status === 101
    ) {
      // no body
    } else if (te && te.includes("chunked")) {
      for (let guard = 0; guard < 100_000_000; guard++) {
        const sizeLine = await this.#readLine();
        const size = parseInt(sizeLine.split(";")[0].trim(), 16);
        if (!Number.isFinite(size)) {
          throw new Error(`bad chunk size: ${sizeLine}`);
        }
        if (size === 0) {
          for (let i = 0; i < 100; i++) {
            if ((await this.#readLine()) === "") break;
          }
          break;
        }
        await this.#consume(size, keep);
        bodyBytes += size;
        await this.#consume(2);
      }
    } else if (cl !== undefined) {
      const n = Number(cl);
      await this.#consume(n, keep);
      bodyBytes = n;
    } else {
      // close-delimited
      this.reusable = false;
      for (let guard = 0; guard < 100_000_000; guard++) {
        if (this.#start === this.#end && !(await this.#fill())) break;
        const take = this.#end - this.#start;
        if (keep) keep.push(this.#buf.slice(this.#start, this.#end));
        bodyBytes += take;
        this.#start = this.#end;
      }
    }
    let body: Uint8Array | undefined;
    if (keep) {
      body = new Uint8Array(keep.reduce((s, c) => s + c.length, 0));
      let off = 0;
      for (const c of keep) {
        body.set(c, off);
        off += c.length;
      }
    }
    if (!this.reusable) this.close();
    return { status, headers, bodyBytes, body };
  }
}

/** Rejects after `ms` unless `p` settles first (the timer is always cleared). */
export function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    id = setTimeout(
      () => reject(new Error(`${what}: timed out after ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(id));
}
