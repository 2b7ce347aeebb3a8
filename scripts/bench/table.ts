/**
 * Markdown tables and number formatting for the reports.
 *
 * @module
 */

/** A markdown table; columns after the first are right-aligned. */
export function mdTable(
  headers: string[],
  rows: (string | number)[][],
): string {
  const head = `| ${headers.join(" | ")} |`;
  const sep = `|${
    headers.map((_, i) => (i === 0 ? "---" : "---:")).join("|")
  }|`;
  const body = rows.map((r) => `| ${r.map(String).join(" | ")} |`);
  return [head, sep, ...body].join("\n");
}

/** Fixed decimals, "—" for NaN/undefined. */
export function fx(v: number | undefined, digits = 1): string {
  if (v === undefined || !Number.isFinite(v)) return "—";
  return v.toFixed(digits);
}

/** Thousands-separated integer, "—" for NaN. */
export function int(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "—";
  return Math.round(v).toLocaleString("en-US");
}
