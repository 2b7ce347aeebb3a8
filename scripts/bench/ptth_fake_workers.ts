/**
 * Many fake pothead workers in one process, for the scale scenario: each
 * connection does the PTTH handshake of DESIGN.md, then serves as an HTTP/1.1
 * server over it: `OPTIONS *` probes get `204 No Content`, any other request
 * gets a tiny `200 ok` (keep-alive). Connections hold small read buffers
 * (1 KiB), so thousands cost little here.
 *
 * Run: `deno run -A scripts/bench/ptth_fake_workers.ts --connect 127.0.0.1:W --count 10000`
 * Prints JSON lines on stdout: `{"event":"connected",…}` once every handshake
 * is done, then `{"event":"tick",…}` counters four times a second. Stops on
 * SIGTERM/SIGINT or after `--max-seconds`.
 *
 * @module
 */

const enc = new TextEncoder();
const dec = new TextDecoder();
const OK = enc.encode(
  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n",
);
const NO_CONTENT = enc.encode("HTTP/1.1 204 No Content\r\n\r\n");

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Index of the end of the first "\r\n\r\n" in buf[0..len), or -1. */
function headEnd(buf: Uint8Array, len: number): number {
  for (let i = 3; i < len; i++) {
    if (
      buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 &&
      buf[i - 3] === 13
    ) return i + 1;
  }
  return -1;
}

/** Counters shared by all connections. */
export const counters = {
  connected: 0,
  failed: 0,
  served: 0,
  probes: 0,
  closed: 0,
};

/** One fake worker: handshake, then serve until the hub closes. */
export async function fakeWorker(
  host: string,
  port: number,
  id: string,
  pool = "default",
): Promise<boolean> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: host, port });
  } catch {
    counters.failed++;
    return false;
  }
  let buf = new Uint8Array(1024);
  let len = 0;
  try {
    await writeAll(
      conn,
      enc.encode(
        `GET /.well-known/pothead/v1/ptth HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: ptth\r\nConnection: Upgrade\r\nALPN: http/1.1\r\nPothead-Pool: ${pool}\r\nPothead-Worker: fake/${Deno.pid}/${id}\r\n\r\n`,
      ),
    );
    // response head
    let end = -1;
    for (let g = 0; g < 100 && end < 0; g++) {
      const n = await conn.read(buf.subarray(len));
      if (n === null) throw new Error("closed during handshake");
      len += n;
      end = headEnd(buf, len);
    }
    const status = dec.decode(buf.subarray(0, 12));
    if (!status.startsWith("HTTP/1.1 101")) {
      throw new Error(`handshake: ${status}`);
    }
    buf.copyWithin(0, end, len);
    len -= end;
    counters.connected++;
  } catch {
    counters.failed++;
    try {
      conn.close();
    } catch { /* closed */ }
    return false;
  }
  // serve loop (bounded by the hub closing the connection)
  (async () => {
    try {
      for (let g = 0; g < 1e9; g++) {
        let end = headEnd(buf, len);
        while (end < 0) {
          if (len === buf.length) {
            const bigger = new Uint8Array(buf.length * 2);
            bigger.set(buf);
            buf = bigger;
          }
          const n = await conn.read(buf.subarray(len));
          if (n === null) return;
          len += n;
          end = headEnd(buf, len);
        }
        const head = dec.decode(buf.subarray(0, end));
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        let bodyLeft = cl ? Number(cl[1]) : 0;
        buf.copyWithin(0, end, len);
        len -= end;
        const have = Math.min(bodyLeft, len);
        buf.copyWithin(0, have, len);
        len -= have;
        bodyLeft -= have;
        while (bodyLeft > 0) {
          const n = await conn.read(buf);
          if (n === null) return;
          const used = Math.min(n, bodyLeft);
          bodyLeft -= used;
          buf.copyWithin(0, used, n);
          len = n - used;
        }
        if (head.startsWith("OPTIONS ")) {
          counters.probes++;
          await writeAll(conn, NO_CONTENT);
        } else {
          counters.served++;
          await writeAll(conn, OK);
        }
        if (buf.length > 1024 && len === 0) buf = new Uint8Array(1024);
      }
    } catch {
      /* connection gone */
    } finally {
      counters.closed++;
      try {
        conn.close();
      } catch { /* closed */ }
    }
  })();
  return true;
}

if (import.meta.main) {
  const arg = (name: string, dflt: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : dflt;
  };
  const [host, portStr] = arg("--connect", "127.0.0.1:4040").split(":");
  const count = Number(arg("--count", "10000"));
  const parallel = Number(arg("--parallel", "256"));
  const maxSeconds = Number(arg("--max-seconds", "300"));
  const print = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
  const exit = () => {
    print({ event: "exit", ...counters });
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", exit);
  Deno.addSignalListener("SIGINT", exit);
  setTimeout(exit, maxSeconds * 1000);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        const i = next++;
        await fakeWorker(host, Number(portStr), String(i));
      }
    }),
  );
  print({ event: "connected", ms: performance.now() - t0, ...counters });
  setInterval(
    () => print({ event: "tick", ms: performance.now() - t0, ...counters }),
    250,
  );
}
