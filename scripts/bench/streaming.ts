/**
 * Streaming: one large download and one large upload through a system, with
 * MB/s and the balancer's peak RSS (sampled VmRSS and the kernel's VmHWM).
 *
 * @module
 */

import { HttpConnection, withTimeout } from "./http_client.ts";
import { procStatusKiB, sampleRss } from "./procs.ts";

/** One transfer's result. */
export interface Transfer {
  bytes: number;
  ms: number;
  mbPerS: number;
  ok: boolean;
  error?: string;
}

/** Downloads `bytes` from `/download`, counting without keeping. */
export async function download(
  port: number,
  bytes: number,
  timeoutMs: number,
): Promise<Transfer> {
  const t0 = performance.now();
  let c: HttpConnection | undefined;
  try {
    c = await HttpConnection.open("127.0.0.1", port, 256 * 1024);
    const conn = c;
    const r = await withTimeout(
      conn.request({ path: `/download?bytes=${bytes}` }),
      timeoutMs,
      "download",
    );
    const ms = performance.now() - t0;
    const ok = r.status === 200 && r.bodyBytes === bytes;
    return {
      bytes: r.bodyBytes,
      ms,
      mbPerS: r.bodyBytes / 1e6 / (ms / 1000),
      ok,
      error: ok ? undefined : `status ${r.status}, ${r.bodyBytes} bytes`,
    };
  } catch (e) {
    return {
      bytes: 0,
      ms: performance.now() - t0,
      mbPerS: NaN,
      ok: false,
      error: String(e),
    };
  } finally {
    c?.close();
  }
}

/** Uploads `bytes` to `/upload` (Content-Length, 256 KiB writes). */
export async function upload(
  port: number,
  bytes: number,
  timeoutMs: number,
): Promise<Transfer> {
  const chunk = new Uint8Array(256 * 1024).fill(121);
  function* chunks() {
    let left = bytes;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      yield n === chunk.length ? chunk : chunk.subarray(0, n);
      left -= n;
    }
  }
  const t0 = performance.now();
  let c: HttpConnection | undefined;
  try {
    c = await HttpConnection.open("127.0.0.1", port, 64 * 1024);
    const conn = c;
    const r = await withTimeout(
      conn.request({
        method: "POST",
        path: "/upload",
        headers: [["Content-Type", "application/octet-stream"]],
        body: { chunks: chunks(), length: bytes },
        keepBody: true,
      }),
      timeoutMs,
      "upload",
    );
    const ms = performance.now() - t0;
    const got = Number(new TextDecoder().decode(r.body).trim());
    const ok = r.status === 200 && got === bytes;
    return {
      bytes,
      ms,
      mbPerS: bytes / 1e6 / (ms / 1000),
      ok,
      error: ok ? undefined : `status ${r.status}, server counted ${got}`,
    };
  } catch (e) {
    return {
      bytes: 0,
      ms: performance.now() - t0,
      mbPerS: NaN,
      ok: false,
      error: String(e),
    };
  } finally {
    c?.close();
  }
}

/** Download then upload through a port, watching the balancer's pids. */
export async function streamThrough(
  port: number,
  bytes: number,
  balancerPids: number[],
): Promise<
  { down: Transfer; up: Transfer; startRssMiB: number; peakRssMiB: number }
> {
  const startKiB = balancerPids.reduce(
    (s, pid) => s + (procStatusKiB(pid, "VmRSS") || 0),
    0,
  );
  const samplers = balancerPids.map((pid) => sampleRss(pid, 25));
  const timeoutMs = Math.max(60_000, bytes / 5e6); // ≥ 5 MB/s or fail
  const down = await download(port, bytes, timeoutMs);
  const up = await upload(port, bytes, timeoutMs);
  let peak = 0;
  balancerPids.forEach((pid, i) => {
    const sampled = samplers[i].stop();
    const hwm = procStatusKiB(pid, "VmHWM");
    peak += Math.max(sampled, isNaN(hwm) ? 0 : hwm);
  });
  return {
    down,
    up,
    startRssMiB: balancerPids.length ? startKiB / 1024 : NaN,
    peakRssMiB: balancerPids.length ? peak / 1024 : NaN,
  };
}
