/**
 * The one error family of the HTTP/1.1 codec. Every parse failure is an
 * {@linkcode Http1ParseError} with a stable {@linkcode Http1ErrorCode}, so the
 * hub and the worker can branch on `code` (for example to answer 400, 431 or
 * 501) without matching message text.
 *
 * @module
 */

/** Stable codes of {@linkcode Http1ParseError}, one per thing a peer can get wrong. */
export const Http1ErrorCode = {
  /** The head is larger than `maxHeadBytes` (answer 431, RFC 6585 §5). */
  HeadTooLarge: "head-too-large",
  /** The head has more field lines than `maxFields` (answer 431). */
  TooManyFields: "too-many-fields",
  /** The request-line or status-line is malformed (RFC 9112 §3, §4). */
  InvalidStartLine: "invalid-start-line",
  /** A field line is malformed, or a line ends in a lone LF (RFC 9112 §5). */
  InvalidHeader: "invalid-header",
  /** A CR not followed by LF (RFC 9112 §2.2). */
  BareCr: "bare-cr",
  /** A field line folded onto the previous one (RFC 9112 §5.2). */
  ObsFold: "obs-fold",
  /** Content-Length together with Transfer-Encoding (RFC 9112 §6.3 rule 3). */
  ConflictingFraming: "conflicting-framing",
  /** Content-Length not digits, above `Number.MAX_SAFE_INTEGER`, or differing duplicates (RFC 9112 §6.3 rule 5). */
  InvalidContentLength: "invalid-content-length",
  /** A request whose Transfer-Encoding is not exactly `chunked` (RFC 9112 §6.1, §6.3 rule 4; answer 501 or 400). */
  UnsupportedTransferEncoding: "unsupported-transfer-encoding",
  /** Bad chunk size, size overflow, missing CRLF after chunk data, or too long chunk extensions (RFC 9112 §7.1). */
  InvalidChunk: "invalid-chunk",
  /** The trailer section is larger than `maxTrailerBytes` (RFC 9112 §7.1.2). */
  TrailersTooLarge: "trailers-too-large",
  /** The peer closed in the middle of a message (RFC 9112 §8). */
  Truncated: "truncated",
  /** More interim 1xx responses than `maxInformational` (RFC 9110 §15.2). */
  TooManyInformational: "too-many-informational",
  /** Bytes where none may be (for adapters, e.g. an idle peer that talks). */
  ExtraData: "extra-data",
} as const;

/** A value of {@linkcode Http1ErrorCode}. */
export type Http1ErrorCode = typeof Http1ErrorCode[keyof typeof Http1ErrorCode];

/**
 * A peer sent bytes that are not a valid HTTP/1.x message, or not one this
 * codec accepts. A `SyntaxError` like every parse failure of the platform;
 * branch on {@linkcode Http1ParseError.code}.
 *
 * @example Branch on the code
 * ```ts
 * import { Http1ParseError } from "./errors.ts";
 * const err = new Http1ParseError("head-too-large", "Cannot parse head: larger than 65536 bytes");
 * const status = err.code === "head-too-large" ? 431 : 400;
 * if (status !== 431) throw new Error("unreachable");
 * ```
 */
export class Http1ParseError extends SyntaxError {
  /** What went wrong, stable across releases. */
  readonly code: Http1ErrorCode;

  /**
   * Creates the error.
   *
   * @param code What went wrong.
   * @param message Names the problem and the offending value.
   */
  constructor(code: Http1ErrorCode, message: string) {
    super(message);
    this.name = "Http1ParseError";
    this.code = code;
  }
}
