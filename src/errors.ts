/**
 * The one error model (as jose's JOSEError): every error the gateway throws on purpose extends `SafeguardError`
 * and carries a stable `code` — branch on the class or the code, never on the message.
 *
 *   SafeguardError                       base; `code` stable, `message` for logs (no secrets, no record values)
 *   ├─ RefusalError                      the domain said no to the caller: a refusal code (REFUSAL_CODES below),
 *   │  ├─ NotFoundError                  plain-English `detail` safe to show, input pointers. Thrown by records/,
 *   │  ├─ InvalidInputError              workflows/, decisions/, notifications/, audit/ — never an HTTP status:
 *   │  ├─ NotPermittedError              the HTTP edge (`REFUSAL_PROBLEMS` in src/http/problem.ts) maps each
 *   │  ├─ PolicyRefusalError             refusal code to one problem code, hence one status, type URI and title
 *   │  ├─ ConflictError
 *   │  └─ UnprocessableError
 *   ├─ GatewayError                      the HTTP-shaped refusal, with a problem code (ERROR_STATUS below): made at
 *   │                                    the edge (http/, web/, auth/ middleware) and answered as RFC 9457 problem+json
 *   └─ every other domain error          AuditUnavailableError, CheckpointError, PolicyLoadError, ConfigError, …
 *                                        each with its own code; `problemFor` in src/http/problem.ts is the one
 *                                        place that maps them to a problem (a 503, or a 500)
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

/**
 * Why the domain refused a caller, one stable code each (the table is in docs/ARCHITECTURE.md, "Error codes"). The
 * HTTP edge maps every code to a problem code (`REFUSAL_PROBLEMS`, src/http/problem.ts: a missing code fails to
 * compile); the ledger's `request_refused` entries record the problem code, as before.
 */
export const REFUSAL_CODES = {
  NotFoundError: [
    'person_not_found',
    'record_not_found',
    'household_not_found',
    'referral_not_found',
    'information_request_not_found',
    'webhook_not_found',
  ],
  InvalidInputError: ['invalid_input', 'unknown_word', 'invalid_query', 'invalid_cursor'],
  NotPermittedError: ['not_permitted', 'not_signed_in'],
  PolicyRefusalError: ['refused_by_policy'],
  ConflictError: ['identity_conflict', 'idempotency_key_reused', 'record_version_stale', 'already_decided', 'webhook_conflict'],
  UnprocessableError: ['decision_not_possible', 'agency_not_registered'],
} as const;
type RefusalCodesOf<K extends keyof typeof REFUSAL_CODES> = (typeof REFUSAL_CODES)[K][number];
export type RefusalCode = RefusalCodesOf<keyof typeof REFUSAL_CODES>;

export interface RefusalExtras {
  readonly errors?: readonly InputProblem[];
}

/** The domain said no to the caller. `detail` is plain English, safe to show; `errors` point into the input. */
export abstract class RefusalError extends SafeguardError {
  abstract override readonly code: RefusalCode;
  /** The parts of the input that are at fault (RFC 9457 `errors`): pointers and words, never values. */
  readonly errors: readonly InputProblem[];
  constructor(
    readonly detail: string,
    extras: RefusalExtras = {},
  ) {
    super(detail);
    this.errors = extras.errors ?? [];
  }
}

/** Nothing with that id is known to (or open to) the caller's agency. */
export class NotFoundError extends RefusalError {
  constructor(
    readonly code: RefusalCodesOf<'NotFoundError'>,
    detail: string,
    extras?: RefusalExtras,
  ) {
    super(detail, extras);
  }
}

/** The input is not valid (a word the vocabulary does not have, a bad query parameter, a bad cursor). */
export class InvalidInputError extends RefusalError {
  constructor(
    readonly code: RefusalCodesOf<'InvalidInputError'>,
    detail: string,
    extras?: RefusalExtras,
  ) {
    super(detail, extras);
  }
}

/** The caller's role, agency or sign-in does not allow this. */
export class NotPermittedError extends RefusalError {
  constructor(
    readonly code: RefusalCodesOf<'NotPermittedError'>,
    detail: string,
    extras?: RefusalExtras,
  ) {
    super(detail, extras);
  }
}

/** The sharing rules (or their safeguards, such as an independent decider) do not allow this. */
export class PolicyRefusalError extends RefusalError {
  readonly code = 'refused_by_policy';
}

/** The request contradicts what the gateway already holds (an identity, a version, a decision, a webhook). */
export class ConflictError extends RefusalError {
  constructor(
    readonly code: RefusalCodesOf<'ConflictError'>,
    detail: string,
    extras?: RefusalExtras,
  ) {
    super(detail, extras);
  }
}

/** The request is well formed but cannot be done as asked. */
export class UnprocessableError extends RefusalError {
  constructor(
    readonly code: RefusalCodesOf<'UnprocessableError'>,
    detail: string,
    extras?: RefusalExtras,
  ) {
    super(detail, extras);
  }
}

/** A result type for expected failures in security code (no exceptions for control flow there). */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });
