import assert from "node:assert/strict";
import { latencyChart, xmlEscape } from "./svg_chart.ts";
import { sorted } from "./stats.ts";

/** A tiny XML well-formedness check: balanced tags, quoted attributes. */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) {
    const between = xml.slice(last, m.index);
    if (between.includes("<") || /&(?!(amp|lt|gt|quot|#39);)/.test(between)) {
      return false;
    }
    last = re.lastIndex;
    const [, close, name, , self] = m;
    if (self) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name);
  }
  return stack.length === 0 && !xml.slice(last).includes("<");
}

Deno.test("the chart is well-formed SVG with a legend and the title", () => {
  const a = sorted(Array.from({ length: 500 }, (_, i) => 50 + i));
  const b = sorted(Array.from({ length: 500 }, (_, i) => 60 + 2 * i));
  const svg = latencyChart([
    { name: "ideal <sim> & co", sortedMs: a, dashed: true },
    { name: "pothead", sortedMs: b },
    { name: "empty", sortedMs: [] },
  ], { title: "tail latency — 2026-01-01", subtitle: "Xeon, 2 cores" });
  assert(svg.startsWith("<svg "));
  assert(wellFormed(svg), "well-formed");
  assert.deepEqual(svg.match(/<polyline /g)?.length, 2);
  assert(svg.includes("ideal &lt;sim&gt; &amp; co"));
  assert(svg.includes("tail latency — 2026-01-01"));
  assert(svg.includes(">p99.9<"));
  assert(!svg.includes("NaN"));
});

Deno.test("a series marked onTop is drawn after the others", () => {
  const a = sorted([1, 2, 3]);
  const svg = latencyChart([
    { name: "first", sortedMs: a, onTop: true, width: 3 },
    { name: "second", sortedMs: a },
  ], { title: "t" });
  const lines = svg.split("\n").filter((l) => l.startsWith("<polyline"));
  assert.equal(lines.length, 2);
  assert.match(lines[1], /stroke-width="3"/);
});

Deno.test("the checker itself rejects broken XML", () => {
  assert(!wellFormed("<svg><g></svg>"));
  assert(!wellFormed("<svg>a & b</svg>"));
  assert(wellFormed("<svg><g/><text>a &amp; b</text></svg>"));
});

Deno.test("xmlEscape", () => {
  assert.deepEqual(
    xmlEscape(`<a href="x">&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;",
  );
});
