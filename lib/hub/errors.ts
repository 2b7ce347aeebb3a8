/**
 * The errors a consumer can see from the hub itself, one typed family with
 * stable codes, mapped to HTTP statuses in one place (DESIGN.md, "What a
 * consumer sees").
 *
 * @module
 */

/** Stable codes, sent to consumers in the `Pothead-Error` header. */
export const HubErrorCode = {
  /** The pool's queue holds `--max-queue` requests already. */
  QueueFull: "queue-full",
  /** No worker took the request within the queue timeout. */
  QueueTimeout: "queue-timeout",
  /** The consumer's body is larger than `--max-body-size`. */
  BodyTooLarge: "body-too-large",
  /** No route matched and there is no default pool. */
  NoRoute: "no-route",
  /** The worker failed before sending a complete response head. */
  WorkerFailed: "worker-failed",
  /** The worker sent no response head within the response timeout. */
  ResponseTimeout: "response-timeout",
  /** The hub is shutting down and takes no new requests. */
  Draining: "draining",
  /** The consumer's request cannot be forwarded (bad framing or headers). */
  BadRequest: "bad-request",
  /** The request head, with the hub's fields, is larger than a worker takes (RFC 6585 §5). */
  HeadersTooLarge: "headers-too-large",
} as const;
/** A value of {@linkcode HubErrorCode}. */
export type HubErrorCode = typeof HubErrorCode[keyof typeof HubErrorCode];

const STATUS: Record<HubErrorCode, number> = {
  "queue-full": 503,
  "queue-timeout": 503,
  "body-too-large": 413,
  "no-route": 404,
  "worker-failed": 502,
  "response-timeout": 504,
  "draining": 503,
  "bad-request": 400,
  "headers-too-large": 431,
};

/** Statuses after which a consumer may retry later get a `Retry-After`. */
const RETRY_AFTER_SECONDS: Partial<Record<HubErrorCode, number>> = {
  "queue-full": 1,
  "queue-timeout": 1,
  "draining": 5,
};

/**
 * An error that ends a consumer request with a status from the contract.
 *
 * @example Map an error to its response
 * ```ts
 * import { HubError } from "./errors.ts";
 * const res = new HubError("queue-full", "pool default holds 1000 requests").toResponse();
 * if (res.status !== 503) throw new Error();
 * ```
 */
export class HubError extends Error {
  /** The stable code. */
  readonly code: HubErrorCode;

  /**
   * Creates an error with a stable code.
   * @param code the stable code
   * @param message what happened, for logs and for the response body
   * @param options the cause, if any
   */
  constructor(code: HubErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HubError";
    this.code = code;
  }

  /** The HTTP status of this error. @returns the status */
  get status(): number {
    return STATUS[this.code];
  }

  /**
   * The response the consumer receives.
   * @param requestId sent back as `X-Request-Id` when given
   * @returns a small text response with `Pothead-Error`
   */
  toResponse(requestId?: string): Response {
    const headers = new Headers({
      "content-type": "text/plain; charset=utf-8",
      "pothead-error": this.code,
    });
    const retry = RETRY_AFTER_SECONDS[this.code];
    if (retry !== undefined) headers.set("retry-after", String(retry));
    if (requestId) headers.set("x-request-id", requestId);
    return new Response(`${this.code}: ${this.message}\n`, {
      status: this.status,
      headers,
    });
  }
}
