import assert from "node:assert/strict";
import app, {
  crc32,
  createMandelbrotApp,
  encodePng,
  parseRenderParams,
  PNG_SIGNATURE,
  RENDER_DEFAULTS,
  type RenderEvent,
  renderRgb,
} from "./mandelbrot.ts";

interface Chunk {
  type: string;
  data: Uint8Array;
}

/** Splits a PNG into chunks, checking the signature and every CRC. */
function readChunks(png: Uint8Array): Chunk[] {
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: Chunk[] = [];
  let at = 8;
  while (at < png.length) {
    assert.ok(at + 12 <= png.length, "truncated chunk");
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    const crc = view.getUint32(at + 8 + length);
    assert.equal(
      crc,
      crc32(png.subarray(at + 4, at + 8 + length)),
      `CRC of ${type}`,
    );
    chunks.push({ type, data });
    at += 12 + length;
  }
  assert.equal(at, png.length);
  return chunks;
}

async function inflate(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(
    new DecompressionStream("deflate"),
  );
  return await new Response(stream).bytes();
}

/** Undoes the PNG filters of 8-bit RGB scanlines (PNG §9). */
function unfilter(size: number, scanlines: Uint8Array): Uint8Array {
  const stride = size * 3;
  const out = new Uint8Array(size * stride);
  for (let y = 0; y < size; y++) {
    const type = scanlines[y * (stride + 1)];
    assert.ok(type <= 4, `filter type ${type} of row ${y}`);
    for (let i = 0; i < stride; i++) {
      const a = i >= 3 ? out[y * stride + i - 3] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = i >= 3 && y > 0 ? out[(y - 1) * stride + i - 3] : 0;
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
          ? b
          : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][type];
      out[y * stride + i] = (scanlines[y * (stride + 1) + 1 + i] + predictor) &
        0xff;
    }
  }
  return out;
}

/** Decodes a PNG this module wrote, checking its structure on the way. */
async function decode(
  png: Uint8Array,
): Promise<{ size: number; rgb: Uint8Array }> {
  const chunks = readChunks(png);
  assert.deepEqual(chunks.map((c) => c.type), ["IHDR", "IDAT", "IEND"]);
  const ihdr = new DataView(
    chunks[0].data.buffer,
    chunks[0].data.byteOffset,
    13,
  );
  const width = ihdr.getUint32(0), height = ihdr.getUint32(4);
  assert.equal(width, height);
  // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
  assert.deepEqual([...chunks[0].data.subarray(8)], [8, 2, 0, 0, 0]);
  const scanlines = await inflate(chunks[1].data.slice());
  assert.equal(scanlines.length, width * (1 + width * 3));
  return { size: width, rgb: unfilter(width, scanlines) };
}

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  // Continuing a CRC over a second part equals the CRC of the whole.
  const whole = new TextEncoder().encode("IEND and more");
  assert.equal(
    crc32(whole.subarray(5), crc32(whole.subarray(0, 5))),
    crc32(whole),
  );
});

Deno.test("encodePng writes a PNG that decodes to the same pixels", async () => {
  const rgb = new Uint8Array(5 * 5 * 3).map((_, i) => (i * 37) & 0xff);
  const { size, rgb: back } = await decode(await encodePng(5, 5, rgb));
  assert.equal(size, 5);
  assert.deepEqual(back, rgb);
  await assert.rejects(() => encodePng(2, 2, new Uint8Array(5)), RangeError);
});

Deno.test("GET /render answers a valid PNG of the rendered pixels", async () => {
  const res = await app.fetch(
    new Request(
      "http://hub/render?x=-0.7453&y=0.1127&zoom=150&size=64&iter=200",
    ),
  );
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  assert.ok(Number(res.headers.get("x-render-ms")) >= 0);
  const { size, rgb } = await decode(await res.bytes());
  assert.equal(size, 64);
  const params = { x: -0.7453, y: 0.1127, zoom: 150, size: 64, iter: 200 };
  assert.deepEqual(rgb, await renderRgb(params));
  // Real content: several colours, and (at this spot) some black inside points.
  const colours = new Set<number>();
  for (let i = 0; i < rgb.length; i += 3) {
    colours.add((rgb[i] << 16) | (rgb[i + 1] << 8) | rgb[i + 2]);
  }
  assert.ok(colours.size > 50, `only ${colours.size} colours`);
  assert.ok(colours.has(0));
});

Deno.test("defaults fill in missing and empty parameters", async () => {
  assert.deepEqual(parseRenderParams(new URLSearchParams("")), RENDER_DEFAULTS);
  assert.deepEqual(
    parseRenderParams(new URLSearchParams("zoom=&size=32")),
    { ...RENDER_DEFAULTS, size: 32 },
  );
  const res = await app.fetch(new Request("http://hub/render?size=16&iter=30"));
  assert.equal((await decode(await res.bytes())).size, 16);
});

Deno.test("julia renders a different image", async () => {
  const base = { x: 0, y: 0, zoom: 0.9, size: 32, iter: 100 };
  const julia =
    parseRenderParams(new URLSearchParams("julia=-0.8,0.156")).julia;
  assert.deepEqual(julia, { re: -0.8, im: 0.156 });
  assert.notDeepEqual(
    await renderRgb({ ...base, julia }),
    await renderRgb(base),
  );
});

Deno.test("bad parameters answer 400 naming the parameter", async () => {
  const cases: Array<[string, RegExp]> = [
    ["size=4096", /size must be an integer from 16 to 1024, got "4096"/],
    ["size=8", /size must be an integer/],
    ["size=12.5", /size must be an integer/],
    ["iter=0", /iter must be an integer from 1 to 5000/],
    ["iter=5001", /iter must be an integer from 1 to 5000/],
    ["zoom=abc", /zoom must be a number/],
    ["zoom=0", /zoom must be a number from 0.1/],
    ["zoom=1e13", /zoom must be a number/],
    ["x=Infinity", /x must be a number from -4 to 4/],
    ["y=0x10", /y must be a number/],
    ["julia=1", /julia must be "re,im"/],
    ["julia=1,9", /julia im must be a number from -2 to 2/],
    ["zooom=5", /unknown parameter "zooom"/],
  ];
  for (const [query, message] of cases) {
    const res = await app.fetch(new Request(`http://hub/render?${query}`));
    assert.equal(res.status, 400, query);
    const body = await res.text();
    assert.match(body, message, query);
    assert.match(body, /usage: \/render\?/, query);
  }
  // Every bad parameter is named at once.
  const res = await app.fetch(new Request("http://hub/render?size=1&iter=-1"));
  assert.match(await res.text(), /size must .*; iter must/);
});

Deno.test("GET / is an HTML page; other paths and methods are refused", async () => {
  const page = await app.fetch(new Request("http://hub/"));
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  const html = await page.text();
  assert.match(html, /<img [^>]*src="render"/);
  assert.match(html, /href="render\?x=-0\.7453&amp;y=/);

  const missing = await app.fetch(new Request("http://hub/nope"));
  assert.equal(missing.status, 404);
  await missing.body?.cancel();

  const post = await app.fetch(
    new Request("http://hub/render", { method: "POST", body: "x" }),
  );
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});

Deno.test("an aborted request stops the render between rows", async () => {
  const events: RenderEvent[] = [];
  const quiet = createMandelbrotApp({ onRender: (e) => events.push(e) });
  const ac = new AbortController();
  // The largest, slowest render: seconds of work if nothing stopped it.
  const req = new Request("http://hub/render?size=1024&iter=5000", {
    signal: ac.signal,
  });
  const pending = quiet.fetch(req);
  // fetch() ran synchronously up to its first yield to the event loop; the
  // abort is seen at the next row.
  ac.abort();
  await assert.rejects(pending, { name: "AbortError" });
  assert.equal(events.length, 1);
  assert.equal(events[0].aborted, true);
  assert.ok(
    events[0].rows > 0 && events[0].rows < 1024,
    `rows ${events[0].rows}`,
  );

  // Already aborted: not a single row.
  events.length = 0;
  await assert.rejects(
    quiet.fetch(
      new Request("http://hub/render", { signal: AbortSignal.abort() }),
    ),
    { name: "AbortError" },
  );
  assert.equal(events[0].rows, 0);
});

Deno.test("a consumer that disconnects from Deno.serve stops the render", async () => {
  const started = Promise.withResolvers<void>();
  const ended = Promise.withResolvers<RenderEvent>();
  const quiet = createMandelbrotApp({ onRender: ended.resolve });
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      started.resolve();
      try {
        return await quiet.fetch(req);
      } catch {
        return new Response(null, { status: 499 });
      }
    },
  );
  const ac = new AbortController();
  const response = fetch(
    `http://127.0.0.1:${server.addr.port}/render?size=1024&iter=5000`,
    { signal: ac.signal },
  );
  await started.promise;
  ac.abort();
  await assert.rejects(response, { name: "AbortError" });
  const event = await ended.promise;
  assert.equal(event.aborted, true);
  assert.ok(event.rows < 1024, `rows ${event.rows}`);
});
