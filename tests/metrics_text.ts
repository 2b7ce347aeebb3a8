/**
 * Reads values out of Prometheus text exposition, for tests.
 *
 * @module
 */

/**
 * The value of one series, or 0 when it is absent.
 * @param text the exposition text
 * @param name the metric name
 * @param labels labels the series must carry (others may be present)
 * @returns the value
 */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    const ok = Object.entries(labels).every(([k, v]) =>
      rest.includes(`${k}="${v}"`)
    );
    if (ok) total += Number(rest.slice(rest.lastIndexOf(" ") + 1));
  }
  return total;
}

/**
 * Fetches `/metrics` and reads one series.
 * @param metricsUrl the metrics base URL
 * @param name the metric name
 * @param labels labels the series must carry
 * @returns the value (summed over matching series)
 */
export async function scrape(
  metricsUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${metricsUrl}/metrics`);
  return metricValue(await res.text(), name, labels);
}
