import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, TextRegistry } from "./exposition.ts";

Deno.test("exposition: the text prom-client wrote, families apart by a blank line", async () => {
  const r = new TextRegistry();
  r.add(new Gauge("q", "Queued.", ["pool"], () => [[["a"], 2]]));
  const h = r.add(new Histogram("w_seconds", "Waits.", ["pool"], [0.1, 1]));
  const c = r.add(new Counter("n_total", "Count.", ["pool", "code"]));
  r.add(new Counter("never_total", "Never counted.", ["pool"]));
  h.labels("a").observe(0.5);
  h.labels("a").observe(5);
  c.labels("a", "200").inc();
  c.inc("a", "200");
  c.inc("a", "502");
  assert.equal(
    await r.metrics(),
    [
      "# HELP q Queued.",
      "# TYPE q gauge",
      'q{pool="a"} 2',
      "",
      "# HELP w_seconds Waits.",
      "# TYPE w_seconds histogram",
      'w_seconds_bucket{le="0.1",pool="a"} 0',
      'w_seconds_bucket{le="1",pool="a"} 1',
      'w_seconds_bucket{le="+Inf",pool="a"} 2',
      'w_seconds_sum{pool="a"} 5.5',
      'w_seconds_count{pool="a"} 2',
      "",
      "# HELP n_total Count.",
      "# TYPE n_total counter",
      'n_total{pool="a",code="200"} 2',
      'n_total{pool="a",code="502"} 1',
      "",
      "# HELP never_total Never counted.",
      "# TYPE never_total counter",
      "",
    ].join("\n"),
  );
});

Deno.test("exposition: label values are escaped", async () => {
  const r = new TextRegistry();
  r.add(new Counter("x_total", "X.", ["v"])).inc('a"b\\c\nd');
  assert.ok((await r.metrics()).includes('x_total{v="a\\"b\\\\c\\nd"} 1'));
});
