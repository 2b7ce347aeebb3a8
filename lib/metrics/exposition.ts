/**
 * Counters, histograms and gauges written in the Prometheus text format
 * (version 0.0.4), for the hub. The hub used `prom-client`, whose loading
 * (an npm package and the Node.js compatibility layer under it) cost an
 * idle hub about 10 MiB of its resident memory (issue 6); the hub's series
 * need only this much. The text is the one `prom-client` wrote: families
 * separated by a blank line, series in the order they first counted, and a
 * histogram's `le` label first.
 *
 * @module
 */

/** Something the registry writes. */
export interface MetricFamily {
  /** Appends the family's lines (`# HELP`, `# TYPE`, samples). */
  write(out: string[]): void;
}

/** A label value escaped for the text format. */
function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** A sample value as Prometheus writes it. */
function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

function labelText(names: readonly string[], values: readonly string[]) {
  let s = "";
  for (let i = 0; i < names.length; i++) {
    s += `${i ? "," : ""}${names[i]}="${escapeValue(values[i] ?? "")}"`;
  }
  return s;
}

/** `name{labels}`, or the bare name when there are no labels. */
function series(name: string, labels: string): string {
  return labels ? `${name}{${labels}}` : name;
}

function header(out: string[], name: string, help: string, type: string) {
  out.push(
    `# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`,
  );
  out.push(`# TYPE ${name} ${type}`);
}

/** The series of a labelled counter, for one set of label values. */
export interface CounterSeries {
  /** Adds `n` (default 1). */
  inc(n?: number): void;
}

/**
 * A counter with labels; each set of label values is a series.
 *
 * @example
 * ```ts
 * import { Counter } from "./exposition.ts";
 * const c = new Counter("jobs_total", "Jobs.", ["code"]);
 * c.labels("200").inc();
 * const out: string[] = [];
 * c.write(out);
 * if (out[2] !== 'jobs_total{code="200"} 1') throw new Error(out.join("\n"));
 * ```
 */
export class Counter implements MetricFamily {
  #series = new Map<string, { values: string[]; n: number }>();

  /**
   * @param name metric name
   * @param help its help text
   * @param labelNames the names of its labels, in order
   */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /**
   * The series of these label values (made on first use).
   * @param values one value per label name, in order
   * @returns the series
   */
  labels(...values: string[]): CounterSeries {
    const key = values.join("\u0000");
    let s = this.#series.get(key);
    if (!s) {
      s = { values, n: 0 };
      this.#series.set(key, s);
    }
    const series = s;
    return { inc: (n = 1) => void (series.n += n) };
  }

  /**
   * Adds 1 to the series of these label values.
   * @param values one value per label name, in order
   */
  inc(...values: string[]): void {
    this.labels(...values).inc();
  }

  /** @param out lines to append to */
  write(out: string[]): void {
    header(out, this.name, this.help, "counter");
    for (const s of this.#series.values()) {
      out.push(
        `${series(this.name, labelText(this.labelNames, s.values))} ${
          formatValue(s.n)
        }`,
      );
    }
  }
}

/** The series of a labelled histogram, for one set of label values. */
export interface HistogramSeries {
  /** Counts one observation. */
  observe(v: number): void;
}

/**
 * A histogram with labels and fixed buckets; each set of label values is a
 * series.
 *
 * @example
 * ```ts
 * import { Histogram } from "./exposition.ts";
 * const h = new Histogram("wait_seconds", "Waits.", ["pool"], [0.1, 1]);
 * h.labels("a").observe(0.5);
 * const out: string[] = [];
 * h.write(out);
 * if (out[3] !== 'wait_seconds_bucket{le="1",pool="a"} 1') throw new Error(out.join("\n"));
 * ```
 */
export class Histogram implements MetricFamily {
  #series = new Map<
    string,
    { values: string[]; counts: number[]; sum: number; count: number }
  >();
  readonly #bounds: number[];

  /**
   * @param name metric name
   * @param help its help text
   * @param labelNames the names of its labels, in order
   * @param buckets upper bounds, ascending (`+Inf` is added)
   */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    this.#bounds = [...buckets];
  }

  /**
   * The series of these label values (it is written once it has counted).
   * @param values one value per label name, in order
   * @returns the series
   */
  labels(...values: string[]): HistogramSeries {
    const key = values.join("\u0000");
    const bounds = this.#bounds;
    const series = this.#series;
    let s = series.get(key);
    return {
      observe: (v) => {
        if (!s) {
          s = series.get(key);
          if (!s) {
            s = {
              values,
              counts: new Array(bounds.length).fill(0),
              sum: 0,
              count: 0,
            };
            series.set(key, s);
          }
        }
        for (let i = 0; i < bounds.length; i++) {
          if (v <= bounds[i]) {
            s.counts[i]++;
            break;
          }
        }
        s.sum += v;
        s.count++;
      },
    };
  }

  /** @param out lines to append to */
  write(out: string[]): void {
    header(out, this.name, this.help, "histogram");
    for (const s of this.#series.values()) {
      const labels = labelText(this.labelNames, s.values);
      const sep = labels ? "," : "";
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.counts[i];
        out.push(
          `${this.name}_bucket{le="${
            formatValue(this.#bounds[i])
          }"${sep}${labels}} ${cumulative}`,
        );
      }
      out.push(`${this.name}_bucket{le="+Inf"${sep}${labels}} ${s.count}`);
      out.push(`${series(`${this.name}_sum`, labels)} ${formatValue(s.sum)}`);
      out.push(`${series(`${this.name}_count`, labels)} ${s.count}`);
    }
  }
}

/**
 * A gauge whose series are read when scraped.
 *
 * @example
 * ```ts
 * import { Gauge } from "./exposition.ts";
 * const g = new Gauge("queue_length", "Queued.", ["pool"], () => [[["a"], 3]]);
 * const out: string[] = [];
 * g.write(out);
 * if (out[2] !== 'queue_length{pool="a"} 3') throw new Error(out.join("\n"));
 * ```
 */
export class Gauge implements MetricFamily {
  /**
   * @param name metric name
   * @param help its help text
   * @param labelNames the names of its labels, in order
   * @param collect the series now: label values (in order) and value
   */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly collect: () => Iterable<[string[], number]>,
  ) {}

  /** @param out lines to append to */
  write(out: string[]): void {
    header(out, this.name, this.help, "gauge");
    for (const [values, v] of this.collect()) {
      out.push(
        `${series(this.name, labelText(this.labelNames, values))} ${
          formatValue(v)
        }`,
      );
    }
  }
}

/**
 * Families written together, as served at `/metrics`.
 *
 * @example
 * ```ts
 * import { Counter, TextRegistry } from "./exposition.ts";
 * const r = new TextRegistry();
 * r.add(new Counter("a_total", "A.", ["x"])).inc("1");
 * const text = await r.metrics();
 * if (!text.endsWith('a_total{x="1"} 1\n')) throw new Error(text);
 * ```
 */
export class TextRegistry {
  /** The `Content-Type` of the text. */
  readonly contentType = "text/plain; version=0.0.4; charset=utf-8";
  #families: MetricFamily[] = [];

  /**
   * Registers a family (written in the order added).
   * @param family the family
   * @returns the family
   */
  add<F extends MetricFamily>(family: F): F {
    this.#families.push(family);
    return family;
  }

  /** @returns the exposition text of every family */
  metrics(): Promise<string> {
    const parts: string[] = [];
    for (const f of this.#families) {
      const out: string[] = [];
      f.write(out);
      parts.push(out.join("\n"));
    }
    return Promise.resolve(parts.join("\n\n") + "\n");
  }
}
