/**
 * One line per event, as text for people or JSON for log pipelines.
 *
 * Text: `2026-11-25T18:00:00.000Z INFO hub listening consumer=127.0.0.1:8080`.
 * JSON: `{"time":"…","level":"info","msg":"hub listening","consumer":"…"}`.
 *
 * @module
 */

import { LineBuffer } from "./line_buffer.ts";

/** The two line formats of `--log-format`. */
export const LogFormat = { Text: "text", Json: "json" } as const;
/** A value of {@linkcode LogFormat}. */
export type LogFormat = typeof LogFormat[keyof typeof LogFormat];

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Extra fields of a log line. Values are written as they are; `undefined` ones are left out. */
export type LogFields = Record<
  string,
  string | number | boolean | null | undefined
>;

/**
 * Where finished lines go; by default standard error. `level` lets a sink
 * treat warnings and errors differently (write them at once).
 */
export type LogSink = (line: string, level: LogLevel) => void;

const LEVEL_ORDER: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};

let stderrBuffer: LineBuffer | null = null;

/** The process's standard error buffer, made (and hooked to exit) once. */
function stderrLines(): LineBuffer {
  if (stderrBuffer) return stderrBuffer;
  const buffer = new LineBuffer({
    write: (bytes) => Deno.stderr.writeSync(bytes),
  });
  const flush = () => buffer.flush();
  // Lines still waiting are written on every way out: a normal end or
  // `Deno.exit` (`unload`), an uncaught error or rejection (before Deno
  // prints it and exits). The listeners do not change what Deno does.
  globalThis.addEventListener("unload", flush);
  globalThis.addEventListener("error", flush);
  globalThis.addEventListener("unhandledrejection", flush);
  stderrBuffer = buffer;
  return buffer;
}

/**
 * Writes lines to standard error, whole and in order. Debug and info lines
 * are batched (written within 20 ms, see {@linkcode LineBuffer}); a warning
 * or an error is written at once, after the lines before it, and lines
 * still waiting are written when the process exits or dies of an uncaught
 * error.
 */
export const stderrSink: LogSink = (line, level) => {
  const buffer = stderrLines();
  buffer.push(line);
  if (level === "warn" || level === "error") buffer.flush();
};

/**
 * Writes the lines {@linkcode stderrSink} still holds, now (before handing
 * standard error to something else, for instance).
 */
export function flushStderrLog(): void {
  stderrBuffer?.flush();
}

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Line format. @default {"text"} */
  format?: LogFormat;
  /** Lines below this level are dropped. @default {"info"} */
  level?: LogLevel;
  /** Where lines go. @default {stderrSink} */
  sink?: LogSink;
  /** Fields added to every line (e.g. the process role). @default {{}} */
  base?: LogFields;
}

function textValue(v: string | number | boolean | null): string {
  if (typeof v !== "string") return String(v);
  // Quote only when needed, so lines stay easy to grep and to split.
  return v === "" || /[\s"=\\]/.test(v) ? JSON.stringify(v) : v;
}

function textFields(fields: LogFields): string {
  let text = "";
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (v !== undefined) text += ` ${k}=${textValue(v)}`;
  }
  return text;
}

/** The level as written in text lines, with the spaces around it. */
const LEVEL_TEXT: Record<LogLevel, string> = {
  debug: " DEBUG ",
  info: " INFO ",
  warn: " WARN ",
  error: " ERROR ",
};

let lastSecond = NaN;
/** `YYYY-MM-DDTHH:MM:SS.` of the last second formatted. */
let secondPrefix = "";

/**
 * The time as ISO 8601 (`2026-11-25T18:00:00.123Z`). `toISOString` costs
 * over a microsecond, so it runs once per second; the milliseconds are
 * appended.
 */
function isoTime(): string {
  const ms = Date.now();
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const frac = ms - second * 1000;
  return secondPrefix + (frac < 10 ? "00" : frac < 100 ? "0" : "") + frac +
    "Z";
}

/**
 * A small structured logger: every call writes exactly one line.
 *
 * @example Log an event with fields
 * ```ts
 * import { Logger } from "./logger.ts";
 * const lines: string[] = [];
 * const log = new Logger({ format: "json", sink: (l) => lines.push(l) });
 * log.info("hub listening", { consumer: "127.0.0.1:8080" });
 * if (JSON.parse(lines[0]).msg !== "hub listening") throw new Error();
 * ```
 */
export class Logger {
  #format: LogFormat;
  #min: number;
  #sink: LogSink;
  #base: LogFields;
  /** The base fields as text, made once (they never change). */
  #baseText: string;

  /**
   * Creates a logger.
   * @param options format, level, sink and base fields
   */
  constructor(options: LoggerOptions = {}) {
    this.#format = options.format ?? "text";
    this.#min = LEVEL_ORDER[options.level ?? "info"];
    this.#sink = options.sink ?? stderrSink;
    this.#base = options.base ?? {};
    this.#baseText = textFields(this.#base);
  }

  /** The line format in use. */
  get format(): LogFormat {
    return this.#format;
  }

  /**
   * A logger writing to the same place with more base fields.
   * @param fields added to every line of the child
   * @returns the child logger
   */
  child(fields: LogFields): Logger {
    return new Logger({
      format: this.#format,
      level: (Object.keys(LEVEL_ORDER) as LogLevel[]).find((l) =>
        LEVEL_ORDER[l] === this.#min
      ),
      sink: this.#sink,
      base: { ...this.#base, ...fields },
    });
  }

  /**
   * Writes one line.
   * @param level severity
   * @param msg what happened, a short fixed phrase (fields carry the values)
   * @param fields the values
   */
  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (LEVEL_ORDER[level] < this.#min) return;
    const time = isoTime();
    if (this.#format === "json") {
      const obj: Record<string, unknown> = { time, level, msg };
      for (const k in this.#base) {
        const v = this.#base[k];
        if (v !== undefined) obj[k] = v;
      }
      for (const k in fields) {
        const v = fields[k];
        if (v !== undefined) obj[k] = v;
      }
      this.#sink(JSON.stringify(obj), level);
      return;
    }
    let line = time + LEVEL_TEXT[level] + msg + this.#baseText;
    // for-in, not Object.keys: no array per line (fields are plain objects).
    for (const k in fields) {
      const v = fields[k];
      if (v !== undefined) line += " " + k + "=" + textValue(v);
    }
    this.#sink(line, level);
  }

  /** Writes a debug line. @param msg what happened @param fields the values */
  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  /** Writes an info line. @param msg what happened @param fields the values */
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  /** Writes a warning line. @param msg what happened @param fields the values */
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  /** Writes an error line. @param msg what happened @param fields the values */
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }
}
