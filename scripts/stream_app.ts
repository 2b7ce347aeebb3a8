/**
 * A worker app for streaming measurements: `GET /bytes?n=N` streams N bytes
 * in 64 KiB chunks; `PUT /sink` reads the whole body and answers its length.
 *
 * @module
 */

const CHUNK = new Uint8Array(64 * 1024).fill(120);

export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/bytes") {
      let left = Number(url.searchParams.get("n") ?? 0);
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            if (left <= 0) return c.close();
            const n = Math.min(left, CHUNK.length);
            // A fresh view each time: the stream must not hand out one
            // buffer twice while the first is still being written.
            c.enqueue(n === CHUNK.length ? CHUNK.slice() : CHUNK.slice(0, n));
            left -= n;
          },
        }, { highWaterMark: 4 }),
        { headers: { "content-length": String(left) } },
      );
    }
    if (url.pathname === "/sink" && req.body) {
      let total = 0;
      for await (const chunk of req.body) total += chunk.length;
      return new Response(`${total}\n`);
    }
    return new Response("use GET /bytes?n=N or PUT /sink\n", { status: 404 });
  },
};
