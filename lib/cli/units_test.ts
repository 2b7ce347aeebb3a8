import assert from "node:assert/strict";
import { formatDuration, parseDuration, parseSize } from "./units.ts";

Deno.test("parseDuration accepts the documented forms", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("10"), 10_000);
  assert.equal(parseDuration("2S"), 2000);
});

Deno.test("parseDuration rejects what is not a duration", () => {
  for (const bad of ["", "lots", "-1s", "5 minutes", "1d", "s"]) {
    assert.throws(() => parseDuration(bad), SyntaxError, bad);
  }
});

Deno.test("parseSize accepts binary and decimal units", () => {
  assert.equal(parseSize("64KiB"), 65536);
  assert.equal(parseSize("512MiB"), 512 * 1024 * 1024);
  assert.equal(parseSize("1GB"), 1e9);
  assert.equal(parseSize("100"), 100);
  assert.equal(parseSize("1kib"), 1024);
});

Deno.test("parseSize rejects what is not a size", () => {
  for (const bad of ["", "lots", "-5", "5 parsecs", "KiB"]) {
    assert.throws(() => parseSize(bad), SyntaxError, bad);
  }
});

Deno.test("formatDuration round-trips", () => {
  for (const ms of [250, 30_000, 300_000, 3_600_000, 1500]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
});
