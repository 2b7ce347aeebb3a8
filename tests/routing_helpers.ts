/**
 * Helpers of the routing and reload tests (issue 8): a raw HTTP/1.1 request
 * that can set any `Host` (fetch cannot), metric reads, and the order in
 * which a worker of `fixtures/order_app.ts` started its jobs.
 *
 * @module
 */

import type { HubProc, LogLine, Proc } from "./processes.ts";

/** The app that logs the order of its jobs. */
export const ORDER_APP = "tests/fixtures/order_app.ts";

/** A response read off the wire. */
export interface RawResponse {
  /** Status code. */
  status: number;
  /** Header fields. */
  headers: Headers;
  /** The body as text (chunked coding removed). */
  body: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Sends one request with `Connection: close` and reads the whole response.
 *
 * @param baseUrl `http://127.0.0.1:<port>`
 * @param path the request target
 * @param headers header lines to send, `Host` included (a request without
 *   one gets none)
 * @param timeoutMs the whole exchange is bounded by this @default {20000}
 * @returns the response
 */
export async function rawRequest(
  baseUrl: string,
  path: string,
  headers: [string, string][],
  timeoutMs = 20_000,
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const conn = await Deno.connect({
    hostname: url.hostname,
    port: Number(url.port),
  });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const head = [
      `GET ${path} HTTP/1.1`,
      ...headers.map(([n, v]) => `${n}: ${v}`),
    ]
      .concat("Connection: close", "", "")
      .join("\r\n");
    await conn.write(encoder.encode(head));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const bytes = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return parseResponse(decoder.decode(bytes));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

function parseResponse(text: string): RawResponse {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`no complete response head: ${text}`);
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = text.slice(end + 4);
  if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
    let out = "";
    for (;;) {
      const eol = body.indexOf("\r\n");
      const size = parseInt(body.slice(0, eol), 16);
      if (!(size > 0)) break;
      out += body.slice(eol + 2, eol + 2 + size);
      body = body.slice(eol + 2 + size + 2);
    }
    body = out;
  }
  return { status, headers, body };
}

/**
 * Reads one sample from the hub's `/metrics`.
 *
 * @param hub the hub
 * @param name the metric name
 * @param labels the label set as written, e.g. `pool="a",state="busy"`
 * @returns the value, or `null` when the series is absent
 */
export async function metric(
  hub: HubProc,
  name: string,
  labels: string,
): Promise<number | null> {
  const text = await (await fetch(`${hub.metricsUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").pop()) : null;
}

/**
 * The JSON log lines of a process that satisfy `pred`, so far.
 *
 * @param proc the process
 * @param pred the filter
 * @returns the lines, oldest first
 */
export function logLines(proc: Proc, pred: (l: LogLine) => boolean): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of proc.lines) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      continue;
    }
    if (typeof parsed === "object" && parsed !== null) {
      const line = parsed as LogLine;
      if (pred(line)) out.push(line);
    }
  }
  return out;
}

/**
 * The names of the jobs a worker of {@linkcode ORDER_APP} started, in order.
 *
 * @param worker the worker process
 * @returns the names
 */
export function jobOrder(worker: Proc): string[] {
  return logLines(worker, (l) => l.msg === "job started").map((l) =>
    String(l.name)
  );
}

/**
 * A temporary directory for a configuration file and gate files, removed on
 * dispose.
 *
 * @returns the directory and helpers
 */
export async function tempDir(): Promise<
  AsyncDisposable & {
    path: string;
    /** Writes `text` to `name` in the directory; returns its path. */
    write(name: string, text: string): Promise<string>;
  }
> {
  const path = await Deno.makeTempDir({ prefix: "pothead-test-" });
  return {
    path,
    async write(name, text) {
      const file = `${path}/${name}`;
      await Deno.writeTextFile(file, text);
      return file;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}
