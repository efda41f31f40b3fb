/**
 * The one error model (as jose's JOSEError): every error the gateway throws on purpose extends `SafeguardError`
 * and carries a stable `code` — branch on the class or the code, never on the message.
 *
 *   SafeguardError                       base; `code` stable, `message` for logs (no secrets, no record values)
 *   ├─ GatewayError                      a refusal of the caller's request: a problem code below, plain-English
 *   │                                    `detail` safe to show, input pointers; answered as RFC 9457 problem+json
 *   └─ every domain error                AuditUnavailableError, CheckpointError, PolicyLoadError, ConfigError, …
 *                                        each with its own code; the HTTP edge (`toProblem` in src/http/problem.ts)
 *                                        is the one place that maps them to a problem (a 503, a 409, or a 500)
 *
 * Problem codes: each maps to one HTTP status and one problem type URI
 * (`https://safeguard-gateway.example/problems/<code>`), so agency systems can branch on them safely.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  unknown_word: 400,
  invalid_request: 400,
  unauthenticated: 401,
  invalid_token: 401,
  forbidden: 403,
  policy_refused: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  headers_too_large: 431,
  audit_unavailable: 503,
  not_ready: 503,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

/** One problem with one part of the input (RFC 9457 extension member `errors`). */
export interface InputProblem {
  /** JSON Pointer into the request, e.g. `/facts/colour`. */
  readonly pointer: string;
  readonly detail: string;
  /** For unknown words: the word given and the allowed values. */
  readonly word?: string;
  readonly allowed?: readonly string[];
}

/** The base of every error the gateway throws on purpose. Subclasses fix `code`; `name` is the class's name. */
export abstract class SafeguardError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A refusal of the caller's request, with a problem code (see the file comment). */
export class GatewayError extends SafeguardError {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    /** Plain English, safe to show to the caller: never a stack trace, never a secret. */
    readonly detail: string,
    readonly extras: {
      readonly errors?: readonly InputProblem[];
      readonly retryAfterSeconds?: number;
      readonly wwwAuthenticate?: string;
      readonly allow?: readonly string[];
    } = {},
  ) {
    super(`${code}: ${detail}`);
    this.status = ERROR_STATUS[code];
  }
}

/** A result type for expected failures in security code (no exceptions for control flow there). */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });
