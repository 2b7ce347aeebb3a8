/**
 * Worker authentication: the shared token, compared in constant time.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Compares a presented `Authorization` value with the expected token without
 * leaking, through timing, how many leading bytes matched, nor the token's
 * length: every byte of the token is compared, whatever the length of the
 * value presented. (No `node:crypto`: loading the Node.js compatibility
 * layer cost an idle hub megabytes of resident memory, issue 6.)
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
  const a = encoder.encode(given);
  const b = encoder.encode(token);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) {
    diff |= b[i] ^ (a[i % (a.length || 1)] ?? 0);
  }
  return diff === 0 && m !== null;
}
