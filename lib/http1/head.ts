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

import { encodeLatin1 } from "./chars.ts";

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
  return s.length > 0 && !NOT_TCHAR.test(s);
}

// Validation by regular expression, once per name or value: V8 runs a
// negated character class natively, several times faster than a charCodeAt
// loop in JavaScript.
/** Any character that is not a tchar (RFC 9110 §5.6.2). */
const NOT_TCHAR = /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/**
 * Any character a field value or reason phrase may not hold: CTLs but HTAB,
 * DEL (RFC 9110 §5.5), and anything above 0xFF, which has no byte.
 */
const NOT_FIELD_TEXT = /[^\t\x20-\x7e\x80-\xff]/;
/**
 * Any character a field value may not hold if it is ASCII: the fast first
 * test; only values it flags are checked against {@linkcode NOT_FIELD_TEXT}.
 */
const NOT_ASCII_FIELD_TEXT = /[^\t\x20-\x7e]/;
/** Any character not allowed in a request-target (visible ASCII only, RFC 9112 §3.2). */
const NOT_TARGET = /[^\x21-\x7e]/;

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

/** Whether text that failed the ASCII test is valid latin1 field text. */
function latin1Text(s: string): boolean {
  return !NOT_FIELD_TEXT.test(s);
}

/** Shows a rejected string in a message: quoted and escaped, cut short. */
function show(s: string): string {
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + "…" : s);
}

/** A head being built: its text, and whether any character is above 0x7F. */
interface Draft {
  s: string;
  ascii: boolean;
}

/** Appends field lines to the draft, checking each name and value. */
function appendFields(
  d: Draft,
  headers: Iterable<[string, string]>,
  what: string,
): void {
  let s = d.s;
  for (const [name, value] of headers) {
    if (name.length === 0 || NOT_TCHAR.test(name)) {
      throw new TypeError(
        `Cannot serialize ${what} head: field name is not a token: current value is ${
          show(name)
        }`,
      );
    }
    if (NOT_ASCII_FIELD_TEXT.test(value)) {
      if (!latin1Text(value)) {
        throw new TypeError(
          `Cannot serialize ${what} head: value of field '${name}' contains a control character or a code point above 0xFF: current value is ${
            show(value)
          }`,
        );
      }
      d.ascii = false;
    }
    s += name + ": " + value + "\r\n";
  }
  d.s = s + "\r\n";
}

/**
 * Serializes a request head, "METHOD target HTTP/1.1", field lines and the
 * empty line (RFC 9112 §3), into one buffer built from one string.
 *
 * @param head The method, the request-target and the fields in order.
 * @returns The bytes of the head, ready to write. Usually a view into a
 * shared slab (a fresh ArrayBuffer per head costs more than the
 * serialization): write it or copy it, never transfer its `buffer`.
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
  if (target.length === 0 || NOT_TARGET.test(target)) {
    throw new TypeError(
      `Cannot serialize request head: request-target is empty or holds SP, a control character or non-ASCII: current value is ${
        show(target)
      }`,
    );
  }
  const d: Draft = { s: method + " " + target + " HTTP/1.1\r\n", ascii: true };
  appendFields(d, head.headers, "request");
  return encodeLatin1(d.s, d.ascii);
}

/**
 * Serializes a response head, "HTTP/1.1 status reason", field lines and the
 * empty line (RFC 9112 §4), into one buffer built from one string.
 *
 * @param head The status, an optional reason phrase (by default the standard
 * phrase for the status, or "" for one not in the table) and the fields.
 * @returns The bytes of the head, ready to write. Usually a view into a
 * shared slab: write it or copy it, never transfer its `buffer`.
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
  const ascii = !NOT_ASCII_FIELD_TEXT.test(reason);
  if (!ascii && !latin1Text(reason)) {
    throw new TypeError(
      `Cannot serialize response head: reason phrase contains a control character or a code point above 0xFF: current value is ${
        show(reason)
      }`,
    );
  }
  const d: Draft = { s: "HTTP/1.1 " + status + " " + reason + "\r\n", ascii };
  appendFields(d, head.headers, "response");
  return encodeLatin1(d.s, d.ascii);
}
