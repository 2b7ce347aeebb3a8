/**
 * Message heads of HTTP/1.1 (RFC 9112 §2.1): the types the parser produces
 * and the serializers the hub and the worker write with.
 *
 * Strings hold one code unit per byte (ISO-8859-1): field values are
 * ByteStrings (RFC 9110 §5.5 allows obs-text, 0x80–0xFF), so a value parsed
 * and serialized again is the same bytes.
 *
 * @module
 */

import { CHAR_CLASS, encodeLatin1, FIELD, TARGET, TOKEN } from "./chars.ts";

/** Header fields in wire order, names as received (case kept), values with OWS trimmed. */
export type HeaderPairs = [string, string][];

/** A parsed request head (RFC 9112 §3). */
export interface RequestHead {
  /** The method, case-sensitive (RFC 9110 §9.1). */
  method: string;
  /** The request-target as sent, in any of the four forms (RFC 9112 §3.2). */
  target: string;
  /** The protocol version of the request-line. */
  version: "HTTP/1.0" | "HTTP/1.1";
  /** Header fields in wire order. */
  headers: HeaderPairs;
}

/** A parsed response head (RFC 9112 §4). */
export interface ResponseHead {
  /** The protocol version of the status-line. */
  version: "HTTP/1.0" | "HTTP/1.1";
  /** The status code, 100–599 (RFC 9110 §15). */
  status: number;
  /** The reason phrase, possibly empty; carries no meaning (RFC 9112 §4). */
  reason: string;
  /** Header fields in wire order. */
  headers: HeaderPairs;
}

/**
 * Tells whether a string is a token (RFC 9110 §5.6.2), the grammar of field
 * names and methods.
 *
 * @param s The string to check.
 * @returns `true` when `s` is one or more tchar.
 *
 * @example Field names
 * ```ts
 * import { isToken } from "./head.ts";
 * if (!isToken("Content-Type") || isToken("Content Type")) throw new Error();
 * ```
 */
export function isToken(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f || (CHAR_CLASS[c] & TOKEN) === 0) return false;
  }
  return true;
}

// Reason phrases of RFC 9110 §15 for the statuses a hub and a worker send;
// the phrase is advisory (RFC 9112 §4), so unknown statuses get "".
const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/**
 * Checks the code units of a field value or reason phrase: field-vchar, SP
 * and HTAB only (RFC 9110 §5.5), so no CR, LF or NUL can split the message,
 * and none above 0xFF, which has no byte.
 *
 * @returns 1 when some code unit is above 0x7F, 0 when all are ASCII, -1 when
 * one is not allowed.
 */
function checkFieldText(s: string): number {
  let hi = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || (CHAR_CLASS[c] & FIELD) === 0) return -1;
    hi |= c;
  }
  return hi > 0x7f ? 1 : 0;
}

/** Shows a rejected string in a message: quoted and escaped, cut short. */
function show(s: string): string {
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + "…" : s);
}

/**
 * Appends field lines to `s`, checking each name and value.
 *
 * @returns The head text and whether all of it is ASCII.
 */
function appendFields(
  s: string,
  ascii: boolean,
  headers: Iterable<[string, string]>,
  what: string,
): [string, boolean] {
  for (const [name, value] of headers) {
    if (!isToken(name)) {
      throw new TypeError(
        `Cannot serialize ${what} head: field name is not a token: current value is ${
          show(name)
        }`,
      );
    }
    const v = checkFieldText(value);
    if (v < 0) {
      throw new TypeError(
        `Cannot serialize ${what} head: value of field '${name}' contains a control character or a code point above 0xFF: current value is ${
          show(value)
        }`,
      );
    }
    if (v > 0) ascii = false;
    s += name + ": " + value + "\r\n";
  }
  return [s, ascii];
}

/**
 * Serializes a request head, "METHOD target HTTP/1.1", field lines and the
 * empty line (RFC 9112 §3), into one buffer built from one string.
 *
 * @param head The method, the request-target and the fields in order.
 * @returns The bytes of the head, ready to write.
 * @throws {TypeError} When the method or a field name is not a token, the
 * target is empty or holds SP, a CTL or non-ASCII, or a value holds a control
 * character other than HTAB (CR, LF, NUL…) or a code point above 0xFF. The
 * message names the field.
 *
 * @example Write a request head
 * ```ts
 * import { serializeRequestHead } from "./head.ts";
 * const bytes = serializeRequestHead({
 *   method: "GET",
 *   target: "/status",
 *   headers: [["Host", "example.com"]],
 * });
 * const text = new TextDecoder().decode(bytes);
 * if (text !== "GET /status HTTP/1.1\r\nHost: example.com\r\n\r\n") throw new Error();
 * ```
 */
export function serializeRequestHead(
  head: { method: string; target: string; headers: Iterable<[string, string]> },
): Uint8Array {
  const { method, target } = head;
  if (!isToken(method)) {
    throw new TypeError(
      `Cannot serialize request head: method is not a token: current value is ${
        show(method)
      }`,
    );
  }
  let targetOk = target.length > 0;
  for (let i = 0; targetOk && i < target.length; i++) {
    const c = target.charCodeAt(i);
    targetOk = c < 0x80 && (CHAR_CLASS[c] & TARGET) !== 0;
  }
  if (!targetOk) {
    throw new TypeError(
      `Cannot serialize request head: request-target is empty or holds SP, a control character or non-ASCII: current value is ${
        show(target)
      }`,
    );
  }
  const [s, ascii] = appendFields(
    method + " " + target + " HTTP/1.1\r\n",
    true,
    head.headers,
    "request",
  );
  return encodeLatin1(s + "\r\n", ascii);
}

/**
 * Serializes a response head, "HTTP/1.1 status reason", field lines and the
 * empty line (RFC 9112 §4), into one buffer built from one string.
 *
 * @param head The status, an optional reason phrase (by default the standard
 * phrase for the status, or "" for one not in the table) and the fields.
 * @returns The bytes of the head, ready to write.
 * @throws {RangeError} When the status is not an integer in 100–599.
 * @throws {TypeError} On a field name that is not a token, or a value or
 * reason holding a control character other than HTAB or a code point above
 * 0xFF. The message names the field.
 *
 * @example Write a response head
 * ```ts
 * import { serializeResponseHead } from "./head.ts";
 * const bytes = serializeResponseHead({ status: 204, headers: [["Server", "pothead"]] });
 * const text = new TextDecoder().decode(bytes);
 * if (text !== "HTTP/1.1 204 No Content\r\nServer: pothead\r\n\r\n") throw new Error();
 * ```
 */
export function serializeResponseHead(
  head: {
    status: number;
    reason?: string;
    headers: Iterable<[string, string]>;
  },
): Uint8Array {
  const { status } = head;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(
      `Cannot serialize response head: status must be an integer in 100–599: current value is ${status}`,
    );
  }
  const reason = head.reason ?? REASONS[status] ?? "";
  const r = checkFieldText(reason);
  if (r < 0) {
    throw new TypeError(
      `Cannot serialize response head: reason phrase contains a control character or a code point above 0xFF: current value is ${
        show(reason)
      }`,
    );
  }
  const [s, ascii] = appendFields(
    "HTTP/1.1 " + status + " " + reason + "\r\n",
    r === 0,
    head.headers,
    "response",
  );
  return encodeLatin1(s + "\r\n", ascii);
}
