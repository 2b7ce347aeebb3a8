/**
 * A small parser for JSON with comments (JSONC), as the configuration file
 * uses: `//` line comments, `/*` block comments and trailing commas in
 * objects and arrays are allowed; everything else is strict JSON (RFC 8259).
 *
 * Unlike `JSON.parse` it keeps where each value and key starts, so that the
 * configuration reader can name the line and column of a value that is
 * well-formed JSON but wrong (an undefined pool, a bad duration). Comments
 * are skipped while scanning rather than stripped beforehand, so positions
 * are those of the file as written.
 *
 * Duplicate keys in one object are an error: in a configuration file the
 * second one silently winning is a trap.
 *
 * @module
 */

/** A parsed JSONC value with the offset of its first character. */
export type JsoncNode =
  | JsoncObject
  | JsoncArray
  | JsoncString
  | JsoncNumber
  | JsoncBoolean
  | JsoncNull;

/** An object, its members in source order. */
export interface JsoncObject {
  /** The kind of value. */
  readonly type: "object";
  /** Offset (UTF-16 code units) of the `{`. */
  readonly offset: number;
  /** The members, in source order; keys are unique. */
  readonly members: JsoncMember[];
}

/** One `"key": value` pair of a {@linkcode JsoncObject}. */
export interface JsoncMember {
  /** The decoded key. */
  readonly key: string;
  /** Offset of the key's opening quote. */
  readonly keyOffset: number;
  /** The value. */
  readonly value: JsoncNode;
}

/** An array. */
export interface JsoncArray {
  /** The kind of value. */
  readonly type: "array";
  /** Offset of the `[`. */
  readonly offset: number;
  /** The elements, in order. */
  readonly items: JsoncNode[];
}

/** A string. */
export interface JsoncString {
  /** The kind of value. */
  readonly type: "string";
  /** Offset of the opening quote. */
  readonly offset: number;
  /** The decoded string. */
  readonly value: string;
}

/** A number. */
export interface JsoncNumber {
  /** The kind of value. */
  readonly type: "number";
  /** Offset of the first character. */
  readonly offset: number;
  /** The value. */
  readonly value: number;
}

/** `true` or `false`. */
export interface JsoncBoolean {
  /** The kind of value. */
  readonly type: "boolean";
  /** Offset of the first character. */
  readonly offset: number;
  /** The value. */
  readonly value: boolean;
}

/** `null`. */
export interface JsoncNull {
  /** The kind of value. */
  readonly type: "null";
  /** Offset of the `n`. */
  readonly offset: number;
}

/** A line and column, both counted from 1. */
export interface SourcePosition {
  /** The line, from 1. Lines end at LF, CRLF or a lone CR. */
  line: number;
  /** The column, from 1, in UTF-16 code units (a tab counts as one). */
  column: number;
}

/**
 * A JSONC text that is not well-formed.
 *
 * @example Tell where the text went wrong
 * ```ts
 * import { JsoncSyntaxError, parseJsonc } from "./jsonc.ts";
 * try {
 *   parseJsonc('{\n  "a": 1\n  "b": 2\n}');
 *   throw new Error("accepted");
 * } catch (e) {
 *   if (!(e instanceof JsoncSyntaxError) || e.line !== 3) throw e;
 * }
 * ```
 */
export class JsoncSyntaxError extends SyntaxError {
  /** Where the problem is (UTF-16 code units from the start). */
  readonly offset: number;
  /** The line of the problem, from 1. */
  readonly line: number;
  /** The column of the problem, from 1. */
  readonly column: number;
  /** The reason alone, without the position. */
  readonly reason: string;

  /**
   * Makes the error; the message is `line:column: reason`.
   *
   * @param reason what is wrong, e.g. "expected ',' or '}'"
   * @param offset where
   * @param position the line and column of `offset`
   */
  constructor(reason: string, offset: number, position: SourcePosition) {
    super(`${position.line}:${position.column}: ${reason}`);
    this.name = "JsoncSyntaxError";
    this.reason = reason;
    this.offset = offset;
    this.line = position.line;
    this.column = position.column;
  }
}

/** The result of {@linkcode parseJsonc}. */
export interface JsoncDocument {
  /** The top-level value. */
  readonly root: JsoncNode;
  /**
   * Turns an offset from a node into a line and column.
   *
   * @param offset an offset within the text
   * @returns its line and column
   */
  positionOf(offset: number): SourcePosition;
}

/** Nesting deeper than this is refused (a configuration needs about 4). */
const MAX_DEPTH = 64;

/**
 * Finds the line and column of an offset.
 *
 * @param text the whole text
 * @param offset an offset within it
 * @returns the line and column, from 1
 *
 * @example The start of the third line
 * ```ts
 * import { positionIn } from "./jsonc.ts";
 * const p = positionIn("a\r\nb\nc", 5);
 * if (p.line !== 3 || p.column !== 1) throw new Error();
 * ```
 */
export function positionIn(text: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      line++;
      lineStart = i + 1;
    } else if (c === 0x0d) {
      if (text.charCodeAt(i + 1) === 0x0a) {
        // CRLF counts once, at the LF; an offset between the two stays on
        // the line that ends there.
        if (i + 1 >= end) break;
        i++;
      }
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Parses JSONC text, keeping the offset of every value and key.
 *
 * @param text the file's content (a leading byte order mark is skipped)
 * @returns the top-level value and a way to turn offsets into lines
 * @throws {JsoncSyntaxError} when the text is not well-formed
 *
 * @example Read a value and where it is
 * ```ts
 * import { parseJsonc } from "./jsonc.ts";
 * const doc = parseJsonc(`{
 *   // the pools
 *   "pools": { "video": {}, },
 * }`);
 * if (doc.root.type !== "object") throw new Error();
 * const pools = doc.root.members[0];
 * const where = doc.positionOf(pools.keyOffset);
 * if (pools.key !== "pools" || where.line !== 3 || where.column !== 3) {
 *   throw new Error();
 * }
 * ```
 */
export function parseJsonc(text: string): JsoncDocument {
  const parser = new Parser(text);
  const root = parser.parseDocument();
  let starts: number[] | null = null;
  return {
    root,
    positionOf(offset: number): SourcePosition {
      starts ??= lineStarts(text);
      // The last line start at or before offset.
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= offset) lo = mid;
        else hi = mid - 1;
      }
      return { line: lo + 1, column: offset - starts[lo] + 1 };
    },
  };
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) starts.push(i + 1);
    else if (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a) starts.push(i + 1);
  }
  return starts;
}

class Parser {
  readonly #text: string;
  #pos = 0;

  constructor(text: string) {
    this.#text = text;
    if (text.charCodeAt(0) === 0xfeff) this.#pos = 1;
  }

  parseDocument(): JsoncNode {
    this.#skip();
    if (this.#pos >= this.#text.length) {
      this.#fail("the file is empty: expected a JSON object", this.#pos);
    }
    const root = this.#value(0);
    this.#skip();
    if (this.#pos < this.#text.length) {
      this.#fail(
        `unexpected ${
          this.#describe(this.#pos)
        } after the end of the top-level value`,
        this.#pos,
      );
    }
    return root;
  }

  #fail(reason: string, offset: number): never {
    throw new JsoncSyntaxError(reason, offset, positionIn(this.#text, offset));
  }

  #describe(offset: number): string {
    if (offset >= this.#text.length) return "end of file";
    const c = this.#text.codePointAt(offset)!;
    if (c < 0x20 || c === 0x7f) {
      return `control character U+${c.toString(16).padStart(4, "0")}`;
    }
    return `'${String.fromCodePoint(c)}'`;
  }

  /** Skips whitespace and comments. */
  #skip(): void {
    const text = this.#text;
    for (;;) {
      const c = text.charCodeAt(this.#pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        this.#pos++;
      } else if (c === 0x2f) { // '/'
        const next = text.charCodeAt(this.#pos + 1);
        if (next === 0x2f) {
          let i = this.#pos + 2;
          while (
            i < text.length && text.charCodeAt(i) !== 0x0a &&
            text.charCodeAt(i) !== 0x0d
          ) i++;
          this.#pos = i;
        } else if (next === 0x2a) {
          const end = text.indexOf("*/", this.#pos + 2);
          if (end < 0) this.#fail("unterminated /* comment", this.#pos);
          this.#pos = end + 2;
        } else {
          this.#fail(
            "unexpected '/' (comments start with // or /*)",
            this.#pos,
          );
        }
      } else {
        return;
      }
    }
  }

  #value(depth: number): JsoncNode {
    const text = this.#text;
    const start = this.#pos;
    const c = text.charCodeAt(start);
    switch (c) {
      case 0x7b: // '{'
        return this.#object(depth + 1);
      case 0x5b: // '['
        return this.#array(depth + 1);
      case 0x22: // '"'
        return { type: "string", offset: start, value: this.#string() };
      case 0x74: // 't'
      case 0x66: // 'f'
      case 0x6e: // 'n'
        return this.#literal();
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.#number();
        if (c === 0x27) {
          this.#fail("strings take double quotes, not single quotes", start);
        }
        this.#fail(
          `unexpected ${this.#describe(start)}: expected a value`,
          start,
        );
    }
  }

  #object(depth: number): JsoncObject {
    const start = this.#pos;
    if (depth > MAX_DEPTH) this.#fail("nesting is too deep", start);
    this.#pos++;
    const members: JsoncMember[] = [];
    const seen = new Set<string>();
    this.#skip();
    if (this.#text.charCodeAt(this.#pos) === 0x7d) {
      this.#pos++;
      return { type: "object", offset: start, members };
    }
    for (;;) {
      const keyOffset = this.#pos;
      if (this.#text.charCodeAt(keyOffset) !== 0x22) {
        const what = this.#describe(keyOffset);
        this.#fail(
          this.#text.charCodeAt(keyOffset) === 0x2c
            ? "unexpected ',': expected a key in double quotes"
            : `unexpected ${what}: expected a key in double quotes`,
          keyOffset,
        );
      }
      const key = this.#string();
      if (seen.has(key)) this.#fail(`duplicate key '${key}'`, keyOffset);
      seen.add(key);
      this.#skip();
      if (this.#text.charCodeAt(this.#pos) !== 0x3a) {
        this.#fail(
          `unexpected ${
            this.#describe(this.#pos)
          }: expected ':' after the key '${key}'`,
          this.#pos,
        );
      }
      this.#pos++;
      this.#skip();
      const value = this.#value(depth);
      members.push({ key, keyOffset, value });
      this.#skip();
      const c = this.#text.charCodeAt(this.#pos);
      if (c === 0x2c) {
        this.#pos++;
        this.#skip();
        if (this.#text.charCodeAt(this.#pos) === 0x7d) { // trailing comma
          this.#pos++;
          return { type: "object", offset: start, members };
        }
      } else if (c === 0x7d) {
        this.#pos++;
        return { type: "object", offset: start, members };
      } else {
        this.#fail(
          `unexpected ${
            this.#describe(this.#pos)
          }: expected ',' or '}' after the value of '${key}'`,
          this.#pos,
        );
      }
    }
  }

  #array(depth: number): JsoncArray {
    const start = this.#pos;
    if (depth > MAX_DEPTH) this.#fail("nesting is too deep", start);
    this.#pos++;
    const items: JsoncNode[] = [];
    this.#skip();
    if (this.#text.charCodeAt(this.#pos) === 0x5d) {
      this.#pos++;
      return { type: "array", offset: start, items };
    }
    for (;;) {
      items.push(this.#value(depth));
      this.#skip();
      const c = this.#text.charCodeAt(this.#pos);
      if (c === 0x2c) {
        this.#pos++;
        this.#skip();
        if (this.#text.charCodeAt(this.#pos) === 0x5d) { // trailing comma
          this.#pos++;
          return { type: "array", offset: start, items };
        }
      } else if (c === 0x5d) {
        this.#pos++;
        return { type: "array", offset: start, items };
      } else {
        this.#fail(
          `unexpected ${
            this.#describe(this.#pos)
          }: expected ',' or ']' in an array`,
          this.#pos,
        );
      }
    }
  }

  /** Reads a string starting at its opening quote; returns it decoded. */
  #string(): string {
    const text = this.#text;
    const start = this.#pos;
    let i = start + 1;
    let out = "";
    let chunk = i;
    for (;;) {
      if (i >= text.length) this.#fail("unterminated string", start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(chunk, i);
        this.#pos = i + 1;
        return out;
      }
      if (c < 0x20) {
        this.#fail(
          c === 0x0a || c === 0x0d
            ? "unterminated string (a line break inside a string must be written \\n)"
            : `${this.#describe(i)} inside a string must be escaped`,
          c === 0x0a || c === 0x0d ? start : i,
        );
      }
      if (c === 0x5c) {
        out += text.slice(chunk, i);
        const e = text[i + 1];
        switch (e) {
          case '"':
          case "\\":
          case "/":
            out += e;
            break;
          case "b":
            out += "\b";
            break;
          case "f":
            out += "\f";
            break;
          case "n":
            out += "\n";
            break;
          case "r":
            out += "\r";
            break;
          case "t":
            out += "\t";
            break;
          case "u": {
            const hex = text.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
              this.#fail("bad \\u escape: expected four hex digits", i);
            }
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            this.#fail(`bad escape '\\${e ?? ""}' in a string`, i);
        }
        i += 2;
        chunk = i;
        continue;
      }
      i++;
    }
  }

  #number(): JsoncNumber {
    const start = this.#pos;
    const re = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    re.lastIndex = start;
    const m = re.exec(this.#text);
    if (m === null) this.#fail(`bad number`, start);
    const end = start + m[0].length;
    const after = this.#text.charCodeAt(end);
    // "01", "1.", "1e", "0x1", "1abc": a number followed by more of a word.
    if (
      (after >= 0x30 && after <= 0x39) || after === 0x2e ||
      (after >= 0x41 && after <= 0x5a) || (after >= 0x61 && after <= 0x7a)
    ) {
      let wordEnd = end;
      while (
        wordEnd < this.#text.length && /[\w.+-]/.test(this.#text[wordEnd])
      ) {
        wordEnd++;
      }
      this.#fail(
        `bad number '${
          this.#text.slice(start, wordEnd)
        }' (durations and sizes are strings: "30s")`,
        start,
      );
    }
    this.#pos = end;
    return { type: "number", offset: start, value: Number(m[0]) };
  }

  #literal(): JsoncBoolean | JsoncNull {
    const start = this.#pos;
    const m = /[A-Za-z_][\w]*/y;
    m.lastIndex = start;
    const word = m.exec(this.#text)![0];
    this.#pos = start + word.length;
    if (word === "true") return { type: "boolean", offset: start, value: true };
    if (word === "false") {
      return { type: "boolean", offset: start, value: false };
    }
    if (word === "null") return { type: "null", offset: start };
    return this.#fail(
      `unexpected word '${word}': expected a value (strings take double quotes)`,
      start,
    );
  }
}

/** A plain JSON value, as `JSON.parse` would return it. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * Turns a parsed node back into a plain value, dropping the positions.
 *
 * @param node a node from {@linkcode parseJsonc}
 * @returns the same value as `JSON.parse` gives for the comment-free text
 *
 * @example
 * ```ts
 * import { parseJsonc, toJsonValue } from "./jsonc.ts";
 * const value = toJsonValue(parseJsonc('[1, "a", // c\n {"b": null},]').root);
 * if (JSON.stringify(value) !== '[1,"a",{"b":null}]') throw new Error();
 * ```
 */
export function toJsonValue(node: JsoncNode): JsonValue {
  switch (node.type) {
    case "object": {
      const out: { [key: string]: JsonValue } = {};
      for (const m of node.members) {
        Object.defineProperty(out, m.key, {
          value: toJsonValue(m.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    case "array":
      return node.items.map(toJsonValue);
    case "null":
      return null;
    default:
      return node.value;
  }
}
