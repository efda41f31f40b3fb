/**
 * The words of notifications: the events an agency may subscribe a webhook to, the kinds of outbox message, who
 * may subscribe to what, and the recipient each kind is decided for.
 */
import type { AgencyType, Purpose, Role } from '../vocabulary/vocabulary';

/** Events a webhook subscription names (stable identifiers: add, never rename). */
export const WEBHOOK_EVENTS = ['operation_encompass.notification', 'household.perpetrator_joined', 'record.disclosed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export const isWebhookEvent = (value: unknown): value is WebhookEvent => typeof value === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(value);

/** Which agency types may subscribe to each event (anyone else is told why, 400). */
export const EVENT_SUBSCRIBERS: { readonly [E in WebhookEvent]: readonly AgencyType[] | 'any' } = {
  'operation_encompass.notification': ['school', 'early_years'],
  'household.perpetrator_joined': ['childrens_social_care', 'mash'],
  'record.disclosed': 'any',
};

export const EVENT_DESCRIPTIONS: { readonly [E in WebhookEvent]: string } = {
  'operation_encompass.notification': 'Operation Encompass: the police attended a domestic abuse incident a child at your school or setting was present at (to your designated safeguarding lead, before the next school day).',
  'household.perpetrator_joined': 'A person recorded as a perpetrator joined a household with children in your area.',
  'record.disclosed': 'A record your agency holds was disclosed to another agency: who, for what purpose, which fields (names only).',
};

/** Outbox message kinds (the outbox.kind column). */
export const OUTBOX_KINDS = ['operation_encompass', 'perpetrator_alert', 'access_notice'] as const;
export type OutboxKind = (typeof OUTBOX_KINDS)[number];

export const EVENT_OF_KIND: { readonly [K in OutboxKind]: WebhookEvent } = {
  operation_encompass: 'operation_encompass.notification',
  perpetrator_alert: 'household.perpetrator_joined',
  access_notice: 'record.disclosed',
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
  'This is the controller\'s own accountability information (UK GDPR Article 5(2) and Article 30), not a disclosure of the record.';
