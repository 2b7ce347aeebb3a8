/**
 * One line per event, as text for people or JSON for log pipelines.
 *
 * Text: `2026-11-25T18:00:00.000Z INFO hub listening consumer=127.0.0.1:8080`.
 * JSON: `{"time":"…","level":"info","msg":"hub listening","consumer":"…"}`.
 *
 * @module
 */

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

/** Where finished lines go; by default standard error. */
export type LogSink = (line: string) => void;

const LEVEL_ORDER: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};

const encoder = new TextEncoder();

/** Writes a line to standard error synchronously, so lines never interleave. */
export const stderrSink: LogSink = (line) => {
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stderr.writeSync(bytes.subarray(written));
  }
};

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

  /**
   * Creates a logger.
   * @param options format, level, sink and base fields
   */
  constructor(options: LoggerOptions = {}) {
    this.#format = options.format ?? "text";
    this.#min = LEVEL_ORDER[options.level ?? "info"];
    this.#sink = options.sink ?? stderrSink;
    this.#base = options.base ?? {};
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
    const time = new Date().toISOString();
    if (this.#format === "json") {
      const obj: Record<string, unknown> = { time, level, msg };
      for (const [k, v] of Object.entries(this.#base)) {
        if (v !== undefined) obj[k] = v;
      }
      for (const [k, v] of Object.entries(fields)) {
        if (v !== undefined) obj[k] = v;
      }
      this.#sink(JSON.stringify(obj));
      return;
    }
    let line = `${time} ${level.toUpperCase()} ${msg}`;
    for (const src of [this.#base, fields]) {
      for (const [k, v] of Object.entries(src)) {
        if (v !== undefined) line += ` ${k}=${textValue(v)}`;
      }
    }
    this.#sink(line);
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
