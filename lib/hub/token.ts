/**
 * Worker authentication: the shared token, compared in constant time.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Compares a presented `Authorization` value with the expected token without
 * leaking, through timing, how many leading bytes matched. Both sides are
 * hashed first so that their lengths are equal too.
 *
 * @param authorization the `Authorization` field value, or null
 * @param token the configured token
 * @returns whether the value is `Bearer <token>`
 *
 * @example
 * ```ts
 * import { bearerMatches } from "./token.ts";
 * if (!bearerMatches("Bearer s3cret", "s3cret")) throw new Error();
 * if (bearerMatches("Bearer guess", "s3cret")) throw new Error();
 * ```
 */
export function bearerMatches(
  authorization: string | null,
  token: string,
): boolean {
  if (authorization === null) return false;
  const m = /^bearer\s+(.*)$/i.exec(authorization.trim());
  const given = m ? m[1] : "";
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b) && m !== null;
}
