/**
 * Byte classes and small byte helpers shared by the head parser, the chunked
 * decoder and the serializers. Internal to `lib/http1/`, except
 * {@linkcode allocBytes}, which the hub also uses for small copies.
 *
 * @module
 */

/** Byte value of HTAB. */
export const HTAB = 0x09;
/** Byte value of LF. */
export const LF = 0x0a;
/** Byte value of CR. */
export const CR = 0x0d;
/** Byte value of SP. */
export const SP = 0x20;
/** Byte value of ":". */
export const COLON = 0x3a;
/** Byte value of ";". */
export const SEMICOLON = 0x3b;

/** Class bit: tchar, RFC 9110 §5.6.2. */
export const TOKEN = 1;
/**
 * Class bit: allowed inside a field value or reason phrase: HTAB, SP, VCHAR
 * and obs-text (RFC 9110 §5.5, RFC 9112 §4). Every CTL but HTAB, and DEL,
 * lack it, so CR, LF and NUL stop a scan.
 */
export const FIELD = 2;
/**
 * Class bit: allowed in a request-target. The forms of RFC 9112 §3.2 are
 * built from visible ASCII only, so SP, CTLs, DEL and bytes above 0x7E lack
 * it.
 */
export const TARGET = 4;

/** Class bits of every byte value; look-ups instead of branches in hot loops. */
export const CHAR_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const tchar = "!#$%&'*+-.^_`|~";
  for (let c = 0; c < 256; c++) {
    let bits = 0;
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a);
    if (alnum || tchar.includes(String.fromCharCode(c))) bits |= TOKEN;
    if (c === HTAB || (c >= SP && c !== 0x7f)) bits |= FIELD;
    if (c > SP && c < 0x7f) bits |= TARGET;
    t[c] = bits;
  }
  return t;
})();

/** Value of each hex digit byte, or -1 (RFC 5234 HEXDIG, either case). */
export const HEX_VALUE: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();

// Deno's "utf-8" decoder is several times faster than its "latin1" one, and
// for ASCII both give the same string. WHATWG's "latin1" is in fact
// windows-1252 (0x80 becomes "€"), which would not round-trip obs-text, so
// heads with bytes above 0x7F are decoded by char code instead.
const ASCII_DECODER = new TextDecoder();
const LATIN1_SLICE = 4096;

/**
 * Decodes bytes as ISO-8859-1: each byte becomes the code unit of the same
 * value, so a field value forwarded with {@linkcode encodeLatin1} is
 * byte-identical.
 *
 * @param bytes The bytes.
 * @param ascii Whether the caller already knows every byte is below 0x80.
 * @returns The string, one UTF-16 code unit per byte.
 */
export function decodeLatin1(bytes: Uint8Array, ascii: boolean): string {
  if (ascii) return ASCII_DECODER.decode(bytes);
  let s = "";
  for (let i = 0; i < bytes.length; i += LATIN1_SLICE) {
    const part = bytes.subarray(i, i + LATIN1_SLICE);
    s += String.fromCharCode.apply(null, part as unknown as number[]);
  }
  return s;
}

const ENCODER = new TextEncoder();

// Small results are carved out of a shared slab: in Deno every new
// ArrayBuffer costs about a microsecond (allocation plus external-memory
// accounting), several times the cost of serializing a head. Node's Buffer
// pool does the same for small buffers.
const SLAB_SIZE = 64 * 1024;
const SLAB_MAX = 4 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

/**
 * Returns `n` writable bytes that no other caller holds: a view into the
 * shared slab for small `n`, a new buffer otherwise. The view's `buffer` is
 * shared with other results, so it must never be transferred or written
 * outside the view.
 *
 * @param n How many bytes.
 * @returns A view of exactly `n` bytes.
 */
export function allocBytes(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  // A fresh slab when full, or when someone transferred (detached) it.
  if (slabUsed + n > SLAB_SIZE || slab.byteLength === 0) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const view = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7; // 8-byte alignment keeps views word-aligned
  return view;
}

/**
 * Encodes a string whose code units are all at most 0xFF, one byte each.
 *
 * @param s The string; the caller has checked its code units.
 * @param ascii Whether every code unit is below 0x80 (then the native UTF-8
 * encoder gives the same bytes, faster).
 * @returns The bytes, possibly a view into the shared slab (see
 * {@linkcode allocBytes}).
 */
export function encodeLatin1(s: string, ascii: boolean): Uint8Array {
  const out = allocBytes(s.length);
  if (ascii) ENCODER.encodeInto(s, out);
  else for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Checks that an option is a non-negative integer.
 *
 * @param name The option's name, for the message.
 * @param value The value given, or undefined.
 * @param fallback The default.
 * @returns The value to use.
 */
export function limitOption(
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot use option '${name}': must be a non-negative integer: current value is ${value}`,
    );
  }
  return value;
}

/**
 * Renders received bytes for an error message: latin1, control characters
 * escaped, cut to a readable length. Only used on error paths.
 *
 * @param bytes The bytes to show.
 * @param max The most characters to show before "…".
 * @returns A printable string.
 */
export function showBytes(bytes: Uint8Array, max = 64): string {
  let s = "";
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) s += String.fromCharCode(c);
    else if (c === 0x0d) s += "\\r";
    else if (c === 0x0a) s += "\\n";
    else if (c === 0x09) s += "\\t";
    else if (c === 0x5c) s += "\\\\";
    else s += "\\x" + c.toString(16).padStart(2, "0");
  }
  return bytes.length > max ? s + "…" : s;
}
