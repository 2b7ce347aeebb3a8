import assert from "node:assert/strict";
import { bearerMatches } from "./token.ts";

Deno.test("bearerMatches: only the exact token, whatever the lengths", () => {
  assert.equal(bearerMatches("Bearer s3cret", "s3cret"), true);
  assert.equal(bearerMatches("bearer   s3cret ", "s3cret"), true);
  for (
    const wrong of [
      "Bearer s3cre",
      "Bearer s3crett",
      "Bearer s3cret\u00e9",
      "Bearer ",
      "Basic s3cret",
      "s3cret",
      "Bearer S3CRET",
      "Bearer s3cret" + "s3cret",
    ]
  ) {
    assert.equal(bearerMatches(wrong, "s3cret"), false, wrong);
  }
  assert.equal(bearerMatches(null, "s3cret"), false);
  assert.equal(bearerMatches("Bearer sécret", "sécret"), true);
});
