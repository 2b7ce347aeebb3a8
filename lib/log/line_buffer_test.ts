import assert from "node:assert/strict";
import { LineBuffer } from "./line_buffer.ts";

const decoder = new TextDecoder();

/** A buffer whose writes and scheduled flush the test controls. */
function setup(
  options: { maxBytes?: number; chunk?: number; fail?: boolean } = {},
) {
  const writes: string[] = [];
  const timers: (() => void)[] = [];
  const buffer = new LineBuffer({
    write: (bytes) => {
      if (options.fail) throw new Error("closed");
      const n = Math.min(bytes.length, options.chunk ?? bytes.length);
      writes.push(decoder.decode(bytes.subarray(0, n)));
      return n;
    },
    schedule: (fn) => timers.push(fn),
    maxBytes: options.maxBytes,
  });
  return { buffer, writes, timers };
}

Deno.test("LineBuffer writes the lines of a batch in one write, when the timer fires", () => {
  const { buffer, writes, timers } = setup();
  buffer.push("a=1");
  buffer.push("b=2");
  buffer.push("c=3");
  assert.deepEqual(writes, []);
  assert.deepEqual(timers.length, 1, "one timer per batch, not per line");
  assert(buffer.pending);
  timers[0]();
  assert.deepEqual(writes, ["a=1\nb=2\nc=3\n"]);
  assert(!buffer.pending);
  buffer.push("d=4");
  assert.deepEqual(timers.length, 2, "the next line starts a new batch");
  timers[1]();
  assert.deepEqual(writes, ["a=1\nb=2\nc=3\n", "d=4\n"]);
});

Deno.test("LineBuffer.flush writes at once; the timer then finds nothing", () => {
  const { buffer, writes, timers } = setup();
  buffer.push("one");
  buffer.flush();
  assert.deepEqual(writes, ["one\n"]);
  timers[0]();
  assert.deepEqual(writes, ["one\n"]);
  buffer.flush();
  assert.deepEqual(writes, ["one\n"]);
});

Deno.test("LineBuffer writes the batch at once when the next line would not fit", () => {
  const { buffer, writes } = setup({ maxBytes: 18 });
  buffer.push("12345"); // 6 bytes; at most 16 counted
  assert.deepEqual(writes, []);
  buffer.push("6789"); // at most 13 more: 6 + 13 > 18
  assert.deepEqual(writes, ["12345\n"]);
  buffer.flush();
  assert.deepEqual(writes, ["12345\n", "6789\n"]);
});

Deno.test("LineBuffer writes a line larger than its buffer alone, after the lines before it", () => {
  const { buffer, writes } = setup({ maxBytes: 64 });
  buffer.push("first");
  buffer.push("é".repeat(40));
  assert.deepEqual(writes, ["first\n", "é".repeat(40) + "\n"]);
  assert(!buffer.pending);
});

Deno.test("LineBuffer cuts a batch only between lines, in pieces of at most 4 KiB", () => {
  const { buffer, writes } = setup();
  const line = "x".repeat(99); // 100 bytes with the newline
  for (let i = 0; i < 100; i++) buffer.push(line);
  const long = "y".repeat(5000);
  buffer.push(long);
  buffer.push("last");
  buffer.flush();
  assert.deepEqual(
    writes.join(""),
    `${line}\n`.repeat(100) + `${long}\nlast\n`,
  );
  for (const w of writes) {
    assert(w.endsWith("\n"), "every write ends with a whole line");
    assert(w.length <= 4096 || w === `${long}\n`, `a write of ${w.length}`);
  }
  assert(writes.includes(`${long}\n`), "a line over 4 KiB goes alone");
});

Deno.test("LineBuffer finishes short writes", () => {
  const { buffer, writes } = setup({ chunk: 3 });
  buffer.push("abcdefg");
  buffer.flush();
  assert.deepEqual(writes.join(""), "abcdefg\n");
  assert.deepEqual(writes.length, 3);
});

Deno.test("LineBuffer drops a batch it cannot write instead of throwing", () => {
  const { buffer, timers } = setup({ fail: true });
  buffer.push("lost");
  timers[0]();
  assert(!buffer.pending);
});
