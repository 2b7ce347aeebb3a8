import assert from "node:assert/strict";
import {
  type JsoncNode,
  JsoncSyntaxError,
  parseJsonc,
  positionIn,
  toJsonValue,
} from "./jsonc.ts";

function syntaxError(text: string): JsoncSyntaxError {
  try {
    parseJsonc(text);
  } catch (e) {
    if (e instanceof JsoncSyntaxError) return e;
    throw e;
  }
  throw new Error(`accepted: ${text}`);
}

Deno.test("parseJsonc agrees with JSON.parse on plain JSON", () => {
  const samples = [
    `{}`,
    `[]`,
    `0`,
    `-0.5e-3`,
    `1E+2`,
    `"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"`,
    `true`,
    `false`,
    `null`,
    ` { "a" : [ 1 , 2 , { "b" : null } ] , "c" : "d" } `,
    `{"__proto__": 1, "constructor": {"x": []}}`,
    `"é 😀"`,
  ];
  for (const text of samples) {
    assert.deepEqual(
      toJsonValue(parseJsonc(text).root),
      JSON.parse(text),
      text,
    );
  }
  const proto = toJsonValue(parseJsonc(`{"__proto__": {"polluted": 1}}`).root);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(proto as object), ["__proto__"]);
});

Deno.test("parseJsonc accepts comments, trailing commas and a BOM", () => {
  const text = `\uFEFF// leading
{
  /* block
     comment */ "a": [1, 2,], // trailing comma in an array
  "b": { "c": "// not a comment", "d": "/* nor this */", }, // and an object
}
/* trailing */`;
  assert.deepEqual(toJsonValue(parseJsonc(text).root), {
    a: [1, 2],
    b: { c: "// not a comment", d: "/* nor this */" },
  });
});

Deno.test("parseJsonc records offsets of keys and values", () => {
  const text = `{
  // comment with "quotes" and { braces
  "pools": {
    "video": { "maxQueue": 10 },
  },
}`;
  const doc = parseJsonc(text);
  const root = doc.root;
  assert.equal(root.type, "object");
  const pools = (root as Extract<JsoncNode, { type: "object" }>).members[0];
  assert.deepEqual(doc.positionOf(pools.keyOffset), { line: 3, column: 3 });
  const video = (pools.value as Extract<JsoncNode, { type: "object" }>)
    .members[0];
  assert.deepEqual(doc.positionOf(video.keyOffset), { line: 4, column: 5 });
  const maxQueue = (video.value as Extract<JsoncNode, { type: "object" }>)
    .members[0].value;
  assert.deepEqual(doc.positionOf(maxQueue.offset), { line: 4, column: 28 });
});

Deno.test("positionOf agrees with positionIn for LF, CRLF and lone CR", () => {
  const text = "a\nb\r\nc\rd\r\n\r\ne";
  for (let i = 0; i <= text.length; i++) {
    const lines = text.slice(0, i).split(/\r\n|\r|\n/);
    const expected = { line: lines.length, column: lines.at(-1)!.length + 1 };
    // An offset on the LF of a CRLF belongs to the line the CRLF ends.
    if (text[i] === "\n" && text[i - 1] === "\r") {
      const before = text.slice(0, i - 1).split(/\r\n|\r|\n/);
      expected.line = before.length;
      expected.column = before.at(-1)!.length + 2;
    }
    assert.deepEqual(positionIn(text, i), expected, `offset ${i}`);
  }
  const padded = text.replace(/[a-e]/g, " ");
  const paddedDoc = parseJsonc(padded + "0");
  for (let i = 0; i <= text.length; i++) {
    assert.deepEqual(
      paddedDoc.positionOf(i),
      positionIn(padded, i),
      `offset ${i}`,
    );
  }
});

Deno.test("parseJsonc reports errors with line and column", () => {
  const cases: Array<[string, number, number, RegExp]> = [
    [`{\n  "a": 1\n  "b": 2\n}`, 3, 3, /expected ',' or '}'/],
    [`{\n  "a": 1,\n  "a": 2\n}`, 3, 3, /duplicate key 'a'/],
    [`{ "a": 'x' }`, 1, 8, /double quotes/],
    [`{ a: 1 }`, 1, 3, /expected a key/],
    [`{ "a" 1 }`, 1, 7, /expected ':'/],
    [`[1,,2]`, 1, 4, /expected a value/],
    [`{,}`, 1, 2, /expected a key/],
    [`[1 2]`, 1, 4, /expected ',' or ']'/],
    [`{"a": 1} x`, 1, 10, /after the end/],
    [`{"a": tru}`, 1, 7, /unexpected word 'tru'/],
    [`{"a": 01}`, 1, 7, /bad number '01'/],
    [`{"a": 30s}`, 1, 7, /bad number '30s'.*strings/],
    [`{"a": 1.}`, 1, 7, /bad number/],
    [`{"a": -}`, 1, 7, /bad number/],
    [`{"a": "x\ny"}`, 1, 7, /unterminated string/],
    [`{"a": "x\\q"}`, 1, 9, /bad escape/],
    [`{"a": "\\u12"}`, 1, 8, /\\u escape/],
    [`{"a": "x`, 1, 7, /unterminated string/],
    [`{"a": 1 /* open`, 1, 9, /unterminated \/\* comment/],
    [`{"a": 1 / 2}`, 1, 9, /unexpected '\/'/],
    [`{"a": [1, 2}`, 1, 12, /expected ',' or ']'/],
    [`{"a": 1`, 1, 8, /end of file/],
    [``, 1, 1, /empty/],
    [`  // only a comment\n`, 2, 1, /empty/],
    [`{"a": "tab\there"}`, 1, 11, /control character U\+0009/],
    [`${"[".repeat(100)}${"]".repeat(100)}`, 1, 65, /too deep/],
  ];
  for (const [text, line, column, reason] of cases) {
    const e = syntaxError(text);
    assert.match(e.reason, reason, JSON.stringify(text));
    assert.deepEqual([e.line, e.column], [line, column], JSON.stringify(text));
    assert.equal(e.message, `${line}:${column}: ${e.reason}`);
    assert.ok(e instanceof SyntaxError);
  }
});

Deno.test("parseJsonc columns after a CRLF line break", () => {
  const e = syntaxError(`{\r\n  "a": 1\r\n  "b": 2\r\n}`);
  assert.deepEqual([e.line, e.column], [3, 3]);
});
