/**
 * An expensive job for pothead: renders the Mandelbrot set (or a Julia set)
 * as a PNG, doing real CPU work whose cost depends on the request.
 *
 * It has the pothead app shape, which is also the shape of a `deno serve`
 * module, so both of these run it:
 *
 * ```sh
 * deno run -A worker.ts --connect 127.0.0.1:4040 examples/mandelbrot.ts
 * deno serve examples/mandelbrot.ts
 * ```
 *
 * Routes:
 * - `GET /`: a small HTML page showing a render, with links to try.
 * - `GET /render?x=&y=&zoom=&size=&iter=&julia=`: the PNG. Every parameter
 *   is optional (see {@linkcode RENDER_DEFAULTS} and {@linkcode RENDER_LIMITS});
 *   a bad value is answered with `400` and a message naming it.
 *
 * Cost: about `size² × (share of points inside the set) × iter` iterations;
 * the defaults take roughly 100–300 ms on one core. The render checks
 * `req.signal` between rows and gives the event loop a turn every few tens of
 * milliseconds, so when the consumer goes away the job stops within about a
 * row and a yield interval, and the fetch throws the abort reason.
 *
 * The PNG is built here: IHDR, one IDAT compressed with
 * `CompressionStream("deflate")` (zlib format, which PNG requires), IEND,
 * each chunk with its CRC-32 (PNG specification, 3rd edition, §5.3).
 *
 * @module
 */

/** Validated parameters of one render. */
export interface RenderParams {
  /** Real part of the centre of the view. */
  x: number;
  /** Imaginary part of the centre of the view. */
  y: number;
  /** Magnification: at 1 the view is 3 units wide; at 10, 0.3. */
  zoom: number;
  /** Width and height of the square image in pixels. */
  size: number;
  /** Iteration limit: points that have not escaped by then count as inside. */
  iter: number;
  /** When set, renders the Julia set of this constant instead. */
  julia?: { re: number; im: number };
}

/** The parameters used when a query leaves them out. */
export const RENDER_DEFAULTS: Readonly<RenderParams> = Object.freeze({
  x: -0.75,
  y: 0,
  zoom: 1,
  size: 512,
  iter: 700,
});

/** Inclusive bounds of the query parameters, see {@linkcode RENDER_LIMITS}. */
export interface RenderLimits {
  /** Bound of `|x|` and `|y|`. */
  coordinate: number;
  /** Smallest `zoom`. */
  minZoom: number;
  /** Largest `zoom`: beyond it, 64-bit floats cannot tell pixels apart. */
  maxZoom: number;
  /** Smallest `size`. */
  minSize: number;
  /** Largest `size`. */
  maxSize: number;
  /** Smallest `iter`. */
  minIter: number;
  /** Largest `iter`. */
  maxIter: number;
  /** Bound of each part of the `julia` constant. */
  julia: number;
}

/** The bounds this renderer enforces (400 outside them). */
export const RENDER_LIMITS: Readonly<RenderLimits> = Object.freeze({
  coordinate: 4,
  minZoom: 0.1,
  maxZoom: 1e12,
  minSize: 16,
  maxSize: 1024,
  minIter: 1,
  maxIter: 5000,
  julia: 2,
});

const VIEW_WIDTH_AT_ZOOM_1 = 3;
/** Escape radius 256: large, so the smooth colouring has no visible bands. */
const ESCAPE_RADIUS_SQUARED = 256 * 256;
/** Give the event loop a turn this often, so an abort can be seen. */
const YIELD_EVERY_MS = 40;

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^\d+$/;
const KNOWN_PARAMS = ["x", "y", "zoom", "size", "iter", "julia"];

function parseNumber(
  name: string,
  raw: string,
  min: number,
  max: number,
  integer = false,
): number {
  const what = integer ? "an integer" : "a number";
  const value = Number(raw);
  if (!(integer ? INTEGER : DECIMAL).test(raw) || value < min || value > max) {
    throw new RangeError(
      `${name} must be ${what} from ${min} to ${max}, got ${
        JSON.stringify(raw)
      }`,
    );
  }
  return value;
}

/**
 * Reads and checks the query of a render request.
 *
 * An empty value (`?zoom=`) means the default. Unknown parameters are
 * refused, so a typo does not silently render the default view.
 *
 * @example Parse a query
 * ```ts
 * import { parseRenderParams } from "./mandelbrot.ts";
 * const p = parseRenderParams(new URLSearchParams("zoom=20&iter=300"));
 * if (p.zoom !== 20 || p.iter !== 300 || p.size !== 512) throw new Error();
 * ```
 *
 * @param query The query parameters of the request.
 * @returns The parameters, defaults filled in.
 * @throws {RangeError} One message naming every bad parameter.
 */
export function parseRenderParams(query: URLSearchParams): RenderParams {
  const errors: string[] = [];
  const params: RenderParams = { ...RENDER_DEFAULTS };
  const L = RENDER_LIMITS;
  for (const name of new Set(query.keys())) {
    if (!KNOWN_PARAMS.includes(name)) {
      errors.push(
        `unknown parameter ${JSON.stringify(name)} (known: ${
          KNOWN_PARAMS.join(", ")
        })`,
      );
    }
  }
  const read = (name: string, parse: (raw: string) => void) => {
    const raw = query.get(name);
    if (raw === null || raw === "") return;
    try {
      parse(raw);
    } catch (e) {
      errors.push((e as Error).message);
    }
  };
  read("x", (r) => params.x = parseNumber("x", r, -L.coordinate, L.coordinate));
  read("y", (r) => params.y = parseNumber("y", r, -L.coordinate, L.coordinate));
  read(
    "zoom",
    (r) => params.zoom = parseNumber("zoom", r, L.minZoom, L.maxZoom),
  );
  read(
    "size",
    (r) => params.size = parseNumber("size", r, L.minSize, L.maxSize, true),
  );
  read(
    "iter",
    (r) => params.iter = parseNumber("iter", r, L.minIter, L.maxIter, true),
  );
  read("julia", (r) => {
    const parts = r.split(",");
    if (parts.length !== 2) {
      throw new RangeError(`julia must be "re,im", got ${JSON.stringify(r)}`);
    }
    params.julia = {
      re: parseNumber("julia re", parts[0].trim(), -L.julia, L.julia),
      im: parseNumber("julia im", parts[1].trim(), -L.julia, L.julia),
    };
  });
  if (errors.length > 0) throw new RangeError(errors.join("; "));
  return params;
}

/** Colour stops of the palette (position 0–1, RGB); it wraps around. */
const PALETTE_STOPS: ReadonlyArray<readonly [number, number, number, number]> =
  [
    [0, 0, 7, 100],
    [0.16, 32, 107, 203],
    [0.42, 237, 255, 255],
    [0.6425, 255, 170, 0],
    [0.8575, 0, 2, 0],
    [1, 0, 7, 100],
  ];
const PALETTE_SIZE = 2048;

function buildPalette(): Uint8Array {
  const palette = new Uint8Array(PALETTE_SIZE * 3);
  let stop = 0;
  for (let i = 0; i < PALETTE_SIZE; i++) {
    const t = i / PALETTE_SIZE;
    while (PALETTE_STOPS[stop + 1][0] < t) stop++;
    const [t0, r0, g0, b0] = PALETTE_STOPS[stop];
    const [t1, r1, g1, b1] = PALETTE_STOPS[stop + 1];
    // Cosine easing: no visible kinks where two stops meet.
    const f = (1 - Math.cos(Math.PI * (t - t0) / (t1 - t0))) / 2;
    palette[i * 3] = Math.round(r0 + (r1 - r0) * f);
    palette[i * 3 + 1] = Math.round(g0 + (g1 - g0) * f);
    palette[i * 3 + 2] = Math.round(b0 + (b1 - b0) * f);
  }
  return palette;
}
const PALETTE = buildPalette();
const LN2 = Math.log(2);

/** A macrotask turn: the only way an abort caused by I/O becomes visible. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** How a render ended, for {@linkcode MandelbrotAppOptions.onRender}. */
export interface RenderEvent {
  /** What was asked for. */
  params: RenderParams;
  /** Rows finished (equals `params.size` unless aborted). */
  rows: number;
  /** True when `signal` aborted the render. */
  aborted: boolean;
  /** Time spent computing pixels, in milliseconds. */
  ms: number;
}

/** Options of {@linkcode renderRgb}. */
export interface RenderOptions {
  /** Checked between rows; when it aborts, the render stops and throws its reason. @default {undefined} */
  signal?: AbortSignal;
  /** Called once when the render finishes or is aborted. @default {undefined} */
  onEnd?: (event: RenderEvent) => void;
}

/**
 * Computes the image: `size × size` pixels, 3 bytes (R, G, B) each, row by
 * row from the top. Smooth (continuous) colouring; inside points are black.
 *
 * @example Render a tiny image
 * ```ts
 * import { renderRgb, RENDER_DEFAULTS } from "./mandelbrot.ts";
 * const rgb = await renderRgb({ ...RENDER_DEFAULTS, size: 16, iter: 50 });
 * if (rgb.length !== 16 * 16 * 3) throw new Error();
 * ```
 *
 * @param params What to render.
 * @param options Abort signal and end callback.
 * @returns The pixels.
 * @throws The signal's reason when it aborts.
 */
export async function renderRgb(
  params: RenderParams,
  options: RenderOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const { signal, onEnd } = options;
  const { size, iter, julia } = params;
  const step = VIEW_WIDTH_AT_ZOOM_1 / params.zoom / size;
  const left = params.x - (size / 2) * step;
  const top = params.y + (size / 2) * step;
  const rgb = new Uint8Array(size * size * 3);
  const started = performance.now();
  let lastYield = started;
  let row = 0;
  const end = (aborted: boolean) =>
    onEnd?.({ params, rows: row, aborted, ms: performance.now() - started });
  try {
    for (; row < size; row++) {
      signal?.throwIfAborted();
      const im = top - row * step;
      let o = row * size * 3;
      for (let col = 0; col < size; col++, o += 3) {
        const re = left + col * step;
        let zr = julia ? re : 0, zi = julia ? im : 0;
        const cr = julia ? julia.re : re, ci = julia ? julia.im : im;
        let zr2 = zr * zr, zi2 = zi * zi;
        let n = 0;
        while (n < iter && zr2 + zi2 <= ESCAPE_RADIUS_SQUARED) {
          zi = 2 * zr * zi + ci;
          zr = zr2 - zi2 + cr;
          zr2 = zr * zr;
          zi2 = zi * zi;
          n++;
        }
        if (n >= iter) continue; // inside: stays black
        // Continuous escape count: n + 1 - log2(log|z| / log 2).
        const mu = n + 1 - Math.log(Math.log(zr2 + zi2) / 2 / LN2) / LN2;
        // sqrt spreads the colours evenly over shallow and deep views alike.
        const p = Math.floor(Math.sqrt(Math.max(mu, 0)) * 160) % PALETTE_SIZE *
          3;
        rgb[o] = PALETTE[p];
        rgb[o + 1] = PALETTE[p + 1];
        rgb[o + 2] = PALETTE[p + 2];
      }
      if (signal && performance.now() - lastYield >= YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
    signal?.throwIfAborted();
  } catch (e) {
    end(true);
    throw e;
  }
  end(false);
  return rgb;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 as PNG and zlib's `crc32()` compute it (ISO 3309, reflected,
 * polynomial 0xEDB88320).
 *
 * @example Check value
 * ```ts
 * import { crc32 } from "./mandelbrot.ts";
 * if (crc32(new TextEncoder().encode("123456789")) !== 0xcbf43926) throw new Error();
 * ```
 *
 * @param bytes The data.
 * @param crc The CRC of the data before `bytes`, to continue it. @default {0}
 * @returns The unsigned 32-bit CRC.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  // The CRC covers the type and the data, not the length (PNG §5.3).
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Picks a PNG filter for each row with the specification's suggested
 * heuristic (PNG §12.8: smallest sum of absolute differences), and writes
 * the filter byte followed by the filtered row.
 */
function filterRows(
  width: number,
  height: number,
  rgb: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const stride = width * 3;
  const out = new Uint8Array(height * (1 + stride));
  const candidate = new Uint8Array(stride);
  const best = new Uint8Array(stride);
  const zero = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const cur = rgb.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? rgb.subarray((y - 1) * stride, y * stride) : zero;
    let bestType = 0, bestScore = Infinity;
    for (let type = 0; type <= 4; type++) {
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= 3 ? cur[i - 3] : 0,
          b = prev[i],
          c = i >= 3 ? prev[i - 3] : 0;
        let predictor: number;
        if (type === 0) predictor = 0;
        else if (type === 1) predictor = a;
        else if (type === 2) predictor = b;
        else if (type === 3) predictor = (a + b) >> 1;
        else {
          const p = a + b - c,
            pa = Math.abs(p - a),
            pb = Math.abs(p - b),
            pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
        const v = (cur[i] - predictor) & 0xff;
        candidate[i] = v;
        score += v < 128 ? v : 256 - v;
      }
      if (score < bestScore) {
        bestScore = score;
        bestType = type;
        best.set(candidate);
      }
    }
    out[y * (1 + stride)] = bestType;
    out.set(best, y * (1 + stride) + 1);
  }
  return out;
}

/** The 8 bytes every PNG file starts with (PNG §5.2). */
export const PNG_SIGNATURE: Uint8Array = new Uint8Array([
  137,
  80,
  78,
  71,
  13,
  10,
  26,
  10,
]);

/**
 * Encodes 8-bit RGB pixels as a PNG file (colour type 2, no interlace).
 *
 * @example Encode a 1×1 red image
 * ```ts
 * import { encodePng } from "./mandelbrot.ts";
 * const png = await encodePng(1, 1, new Uint8Array([255, 0, 0]));
 * if (png[1] !== 0x50) throw new Error(); // "P" of the signature
 * ```
 *
 * @param width Image width in pixels.
 * @param height Image height in pixels.
 * @param rgb `width × height × 3` bytes, rows from the top.
 * @returns The PNG file.
 * @throws {RangeError} When `rgb` has the wrong length.
 */
export async function encodePng(
  width: number,
  height: number,
  rgb: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  if (rgb.length !== width * height * 3) {
    throw new RangeError(
      `Cannot encode PNG: expected ${
        width * height * 3
      } bytes of RGB, got ${rgb.length}`,
    );
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // depth 8, RGB, deflate, adaptive filters, no interlace
  const scanlines = filterRows(width, height, rgb);
  // "deflate" is the zlib format (RFC 1950), which is what IDAT holds (PNG §10.1).
  const zlib = await new Response(
    new Blob([scanlines]).stream().pipeThrough(
      new CompressionStream("deflate"),
    ),
  ).bytes();
  const parts = [
    PNG_SIGNATURE,
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A view worth opening, for the HTML page and for load mixes. */
export interface Preset {
  /** Short name. */
  name: string;
  /** Query string of `/render`, without `?`. */
  query: string;
}

/** Views that look good, from cheap to expensive. */
export const PRESETS: readonly Preset[] = [
  { name: "overview", query: "x=-0.75&y=0&zoom=1&iter=300" },
  { name: "seahorse valley", query: "x=-0.7453&y=0.1127&zoom=150&iter=800" },
  { name: "elephant trunks", query: "x=0.3245&y=0.0486&zoom=80&iter=800" },
  {
    name: "double spiral",
    query: "x=-0.7436439&y=0.1318259&zoom=2000&iter=1500",
  },
  { name: "mini Mandelbrot", query: "x=-1.7549&y=0&zoom=40&iter=800" },
  { name: "Julia dendrite", query: "julia=0,1&x=0&y=0&zoom=0.9&iter=300" },
  {
    name: "Julia spirals",
    query: "julia=-0.8,0.156&x=0&y=0&zoom=0.9&iter=1000",
  },
];

function page(): string {
  const links = PRESETS.map((p) => {
    const q = p.query.replaceAll("&", "&amp;");
    return `<li><a href="render?${q}" data-q="${q}">${p.name}</a></li>`;
  }).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pothead · mandelbrot</title>
<style>body{font:15px system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
img{width:512px;height:512px;background:#000;cursor:zoom-in;float:left;margin:0 1.5em 1em 0}
code{background:#eee;padding:0 .2em}li{margin:.2em 0}</style></head><body>
<h1>Mandelbrot renderer</h1>
<img id="img" alt="render" src="render">
<p>Every image is a job: a worker renders it on one core and pothead queues
the rest. Click the image to zoom in ×4 at that point.</p>
<ul>${links}</ul>
<p id="q"><code>render</code></p>
<p>Parameters of <code>/render</code>: <code>x</code>, <code>y</code> (centre),
<code>zoom</code> (0.1–1e12), <code>size</code> (16–1024 px),
<code>iter</code> (1–5000), <code>julia=re,im</code> (Julia set instead).</p>
<script>
const img = document.getElementById("img"), q = document.getElementById("q");
function show(query) {
  const src = "render?" + query;
  img.src = src;
  q.innerHTML = '<a href="' + src + '"><code>' + src + '</code></a>';
}
document.querySelectorAll("a[data-q]").forEach((a) =>
  a.onclick = (e) => { e.preventDefault(); show(a.dataset.q); });
img.onclick = (e) => {
  const p = new URLSearchParams(img.src.split("?")[1] || "");
  const zoom = Number(p.get("zoom") || 1), size = img.clientWidth;
  const step = 3 / zoom / size;
  p.set("x", String(Number(p.get("x") || -0.75) + (e.offsetX - size / 2) * step));
  p.set("y", String(Number(p.get("y") || 0) - (e.offsetY - size / 2) * step));
  p.set("zoom", String(Math.min(1e12, zoom * 4)));
  p.set("iter", String(Math.min(5000, Math.round(Number(p.get("iter") || 700) * 1.3))));
  show(p.toString());
};
</script></body></html>
`;
}

/** Options of {@linkcode createMandelbrotApp}. */
export interface MandelbrotAppOptions {
  /**
   * Called once per render when it finishes or is aborted. The default logs
   * aborted renders to standard error, so an operator sees the job stop when
   * its consumer goes away.
   * @default {logAborted}
   */
  onRender?: (event: RenderEvent) => void;
}

/** The default {@linkcode MandelbrotAppOptions.onRender}: one line per aborted render. */
export function logAborted(event: RenderEvent): void {
  if (!event.aborted) return;
  console.error(
    `mandelbrot: render aborted after ${event.rows}/${event.params.size} rows ` +
      `(${Math.round(event.ms)} ms): the consumer went away`,
  );
}

/** An app in the pothead (and `deno serve`) shape. */
export interface FetchApp {
  /** Answers one request. */
  fetch(req: Request): Promise<Response>;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

function usage(): string {
  const d = RENDER_DEFAULTS;
  return `usage: /render?x=${d.x}&y=${d.y}&zoom=${d.zoom}&size=${d.size}&iter=${d.iter}` +
    ` (optional: julia=re,im)\n`;
}

/**
 * Makes the renderer app.
 *
 * @example Answer a request without a server
 * ```ts
 * import { createMandelbrotApp } from "./mandelbrot.ts";
 * const app = createMandelbrotApp();
 * const res = await app.fetch(new Request("http://x/render?size=16&iter=20"));
 * if (res.headers.get("content-type") !== "image/png") throw new Error();
 * ```
 *
 * @param options Hooks.
 * @returns The app.
 */
export function createMandelbrotApp(
  options: MandelbrotAppOptions = {},
): FetchApp {
  const onRender = options.onRender ?? logAborted;
  return {
    async fetch(req: Request): Promise<Response> {
      const url = new URL(req.url);
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response(`method ${req.method} not allowed\n`, {
          status: 405,
          headers: { ...TEXT, allow: "GET, HEAD" },
        });
      }
      if (url.pathname === "/") {
        return new Response(page(), {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      }
      if (url.pathname !== "/render") {
        return new Response(`not found: ${url.pathname}\n${usage()}`, {
          status: 404,
          headers: TEXT,
        });
      }
      let params: RenderParams;
      try {
        params = parseRenderParams(url.searchParams);
      } catch (e) {
        return new Response(
          `bad request: ${(e as Error).message}\n${usage()}`,
          {
            status: 400,
            headers: TEXT,
          },
        );
      }
      const started = performance.now();
      const rgb = await renderRgb(params, {
        signal: req.signal,
        onEnd: onRender,
      });
      const png = await encodePng(params.size, params.size, rgb);
      return new Response(png, {
        headers: {
          "content-type": "image/png",
          "cache-control": "no-store",
          "x-render-ms": (performance.now() - started).toFixed(1),
        },
      });
    },
  };
}

/** The app that `worker.ts` and `deno serve` load. */
const app: FetchApp = createMandelbrotApp();
export default app;
