/**
 * The words of notifications: the events an agency may subscribe a webhook to, the kinds of outbox message, who
 * may subscribe to what, and the recipient each kind is decided for.
 */
import type { AgencyType, Purpose, Role } from '../vocabulary/vocabulary';

/** Events a webhook subscription names (stable identifiers: add, never rename). */
export const WEBHOOK_EVENTS = [
  'operation_encompass.notification',
  'household.perpetrator_joined',
  'record.disclosed',
  // src/workflows/: referrals and requests for information (ids, statuses and field names only).
  'referral.decided',
  'referral.overdue',
  'information_request.received',
  'information_request.answered',
  'information_request.overdue',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export const isWebhookEvent = (value: unknown): value is WebhookEvent =>
  typeof value === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(value);

/** Which agency types may subscribe to each event (anyone else is told why, 400). */
export const EVENT_SUBSCRIBERS: { readonly [E in WebhookEvent]: readonly AgencyType[] | 'any' } = {
  'operation_encompass.notification': ['school', 'early_years'],
  'household.perpetrator_joined': ['childrens_social_care', 'mash'],
  'record.disclosed': 'any',
  'referral.decided': 'any',
  'referral.overdue': 'any',
  'information_request.received': 'any',
  'information_request.answered': 'any',
  'information_request.overdue': 'any',
};

export const EVENT_DESCRIPTIONS: { readonly [E in WebhookEvent]: string } = {
  'operation_encompass.notification':
    'Operation Encompass: the police attended a domestic abuse incident a child at your school or setting was present at (to your ' +
    'designated safeguarding lead, before the next school day).',
  'household.perpetrator_joined': 'A person recorded as a perpetrator joined a household with children in your area.',
  'record.disclosed': 'A record your agency holds was disclosed to another agency: who, for what purpose, which fields (names only).',
  'referral.decided': 'A referral one of your practitioners asked for has been decided: the outcome and the fields released (names only).',
  'referral.overdue': 'A referral waiting for a decider at your agency is past its time limit.',
  'information_request.received': 'Another agency has asked yours for information about a subject, for a purpose, by a deadline.',
  'information_request.answered': 'An agency you asked for information has answered or declined.',
  'information_request.overdue':
    'A request for information is past its deadline without an answer (to the requester and the agency asked).',
};

/** Outbox message kinds (the outbox.kind column). */
export const OUTBOX_KINDS = [
  'operation_encompass',
  'perpetrator_alert',
  'access_notice',
  'referral_decided',
  'referral_overdue',
  'information_request_received',
  'information_request_answered',
  'information_request_overdue',
] as const;
export type OutboxKind = (typeof OUTBOX_KINDS)[number];

export const EVENT_OF_KIND: { readonly [K in OutboxKind]: WebhookEvent } = {
  operation_encompass: 'operation_encompass.notification',
  perpetrator_alert: 'household.perpetrator_joined',
  access_notice: 'record.disclosed',
  referral_decided: 'referral.decided',
  referral_overdue: 'referral.overdue',
  information_request_received: 'information_request.received',
  information_request_answered: 'information_request.answered',
  information_request_overdue: 'information_request.overdue',
};

/** The `typ` of every notification JWS. */
export const NOTIFICATION_TYP = 'sg-notification+jwt';
/** The media type a notification is POSTed with (a compact JWS). */
export const NOTIFICATION_CONTENT_TYPE = 'application/jose';

/** Who a perpetrator alert goes to, and the purpose it is decided for. */
export const ALERT_RECIPIENTS: ReadonlyArray<{ readonly agencyType: AgencyType; readonly purpose: Purpose; readonly role: Role }> = [
  { agencyType: 'childrens_social_care', purpose: 'child_protection_enquiry', role: 'social_worker' },
  { agencyType: 'mash', purpose: 'mash_triage', role: 'mash_analyst' },
];

/** The Operation Encompass recipient: the school's (or setting's) designated safeguarding lead. */
export const ENCOMPASS_RECIPIENT_ROLE: Role = 'designated_safeguarding_lead';
export const ENCOMPASS_RECIPIENT_TYPES: readonly AgencyType[] = ['school', 'early_years'];

/** The gateway's own rule for access notices: the data owner is told about disclosures of its own records. */
export const ACCESS_NOTICE_RULE = 'access-notice-to-data-owner';
export const ACCESS_NOTICE_REASON =
  'The agency that holds a record is told when it is disclosed: to whom, for what purpose and which fields, by name only. ' +
  "This is the controller's own accountability information (UK GDPR Article 5(2) and Article 30), not a disclosure of the record.";
