/**
 * Every kind of ledger entry and every outcome string the gateway writes, with the plain words the console shows.
 * One list each: the audit query's enums, the OpenAPI document and the console's filters and labels are all built
 * from these, so a new kind or outcome cannot be missed (a `Record<AuditKind, string>` fails to compile without it).
 */
import type { ErrorCode } from '../errors';

export const AUDIT_KINDS = [
  'decision',
  'disclosure',
  'contribution',
  'request_refused',
  'audit_read',
  'audit_verify',
  'ledger_checkpoint',
  // src/notifications/: a message's disclosure (committed before it is POSTed), each delivery attempt's result, webhook changes.
  'notification',
  'alert',
  'notification_attempt',
  'webhook',
  // src/workflows/: a referral flagged overdue, a decider's decision (points at the original decision entry), a request
  // for information created or flagged overdue, an asked agency's answer or decline.
  'referral',
  'referral_decision',
  'information_request',
  'information_response',
  // src/cli/keys-rotate.ts: a new version of a signing key (the old public keys stay published).
  'key_rotation',
  // src/audit/anonymous-refusals.ts: refusals of unidentified callers, one entry per source, problem and window.
  'anonymous_refusals',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export const AUDIT_KIND_LABELS: Record<AuditKind, string> = {
  decision: 'Sharing decision',
  disclosure: 'Records disclosed',
  contribution: 'Information contributed',
  request_refused: 'Request refused',
  anonymous_refusals: 'Requests refused from an unidentified caller (summary)',
  audit_read: 'Audit log read',
  audit_verify: 'Ledger verification',
  ledger_checkpoint: 'Ledger sealed (signed checkpoint)',
  notification: 'Notification sent',
  alert: 'Alert sent',
  notification_attempt: 'Notification delivery attempt',
  webhook: 'Webhook registration changed',
  referral: 'Referral past its time limit',
  referral_decision: 'Referral decided',
  information_request: 'Request for information',
  information_response: 'Request for information answered',
  key_rotation: 'Signing key rotated',
};

/** Kinds that record someone looking at the ledger: hidden from the console's log unless asked for. */
export const READ_KINDS: readonly AuditKind[] = ['audit_read', 'audit_verify'];

const NON_ERROR_OUTCOME_LABELS = {
  // decisions and disclosures
  permit: 'Share',
  permit_partial: 'Share some',
  deny: 'Do not share',
  refer: 'Refer to a decider',
  signals: 'Risk signals shown',
  // reads and verification
  served: 'Shown',
  intact: 'Chain intact',
  broken: 'Chain broken',
  // checkpoints
  sealed: 'Sealed',
  nothing_new: 'Nothing new to seal',
  empty: 'Ledger empty',
  rotated: 'Key rotated',
  // contributions and seed data
  created: 'Created',
  updated: 'Updated',
  matched: 'Matched an existing person',
  seeded: 'Demo data loaded',
  // notifications and webhooks
  delivered: 'Delivered',
  failed: 'Delivery failed (will retry)',
  dead_letter: 'Delivery abandoned',
  registered: 'Registered',
  removed: 'Removed',
  // workflows: referral decisions, requests for information
  share: 'Decider: share',
  share_some: 'Decider: share some',
  do_not_share: 'Decider: do not share',
  overdue: 'Overdue',
  answered: 'Answered',
  declined: 'Declined',
} as const;

/** Refusals are recorded with their problem code as the outcome. */
const ERROR_OUTCOME_LABELS: Record<ErrorCode, string> = {
  bad_request: 'Refused: bad request',
  unknown_word: 'Refused: unknown word',
  invalid_request: 'Refused: invalid request',
  unauthenticated: 'Refused: not signed in',
  invalid_token: 'Refused: invalid access token',
  forbidden: 'Refused: not allowed',
  policy_refused: 'Refused by policy',
  not_found: 'Refused: not found',
  method_not_allowed: 'Refused: method not allowed',
  conflict: 'Refused: conflict',
  payload_too_large: 'Refused: body too large',
  unsupported_media_type: 'Refused: not JSON',
  unprocessable: 'Refused: cannot be processed',
  rate_limited: 'Refused: too many requests',
  headers_too_large: 'Refused: headers too large',
  audit_unavailable: 'Audit ledger unavailable',
  not_ready: 'Database unavailable',
  internal: 'Internal error',
};

export type AuditOutcome = keyof typeof NON_ERROR_OUTCOME_LABELS | ErrorCode;
export const AUDIT_OUTCOME_LABELS: Record<AuditOutcome, string> = { ...NON_ERROR_OUTCOME_LABELS, ...ERROR_OUTCOME_LABELS };
export const AUDIT_OUTCOMES = Object.keys(AUDIT_OUTCOME_LABELS) as AuditOutcome[];

export function isAuditKind(value: unknown): value is AuditKind {
  return typeof value === 'string' && (AUDIT_KINDS as readonly string[]).includes(value);
}
export function isAuditOutcome(value: unknown): value is AuditOutcome {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(AUDIT_OUTCOME_LABELS, value);
}
