/**
 * Reads Prometheus text exposition in tests: every sample line as name,
 * labels and value, with look-ups by exact label set.
 *
 * @module
 */

/** One sample line. */
export interface Sample {
  /** Metric name (with `_bucket`, `_sum`, `_count` for histograms). */
  name: string;
  /** Its labels. */
  labels: Record<string, string>;
  /** Its value. */
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Parses exposition text.
 * @param text the body of `/metrics`
 * @returns every sample
 */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) throw new SyntaxError(`Cannot parse metrics line: '${line}'`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Parsed metrics with look-ups. */
export class Metrics {
  /** Every sample. */
  readonly samples: Sample[];
  /** @param text exposition text */
  constructor(readonly text: string) {
    this.samples = parseMetrics(text);
  }

  /**
   * The value of the series with exactly these labels, or undefined.
   * @param name metric name
   * @param labels the whole label set
   * @returns the value
   */
  get(name: string, labels: Record<string, string> = {}): number | undefined {
    const want = Object.entries(labels);
    return this.samples.find((s) =>
      s.name === name && Object.keys(s.labels).length === want.length &&
      want.every(([k, v]) => s.labels[k] === v)
    )?.value;
  }

  /**
   * Every series of a name, keyed by one label.
   * @param name metric name
   * @param label the label to key by
   * @returns label value → value
   */
  by(name: string, label: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.samples) {
      if (s.name === name && label in s.labels) {
        out[s.labels[label]] = (out[s.labels[label]] ?? 0) + s.value;
      }
    }
    return out;
  }
}

/**
 * Fetches and parses `/metrics`.
 * @param baseUrl `http://host:port` of a metrics port
 * @returns the parsed metrics
 */
export async function scrapeMetrics(baseUrl: string): Promise<Metrics> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${baseUrl}/metrics: ${res.status}`);
  return new Metrics(await res.text());
}

/**
 * A free loopback TCP port (bound, then released).
 * @returns the port
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
