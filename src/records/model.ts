/**
 * The record store's words: record kinds and the vocabulary fields each kind may hold, the fields kept about a
 * person, classifications, and the facts the gateway works out itself (never taken from a caller).
 *
 * A record holds vocabulary field → value (`fields`) and vocabulary facts (`facts`). Policies grant fields, so a
 * record is disclosed field by field; its facts are the circumstances the policy decides on and are never sent.
 */
import type { DashRiskLevel, FactName, Field, SubjectRole } from '../vocabulary/vocabulary';

export const RECORD_KINDS = [
  'incident',
  'risk_assessment',
  'referral',
  'plan_status',
  'school_note',
  'court_order',
  'health_note',
] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];
export const isRecordKind = (value: unknown): value is RecordKind =>
  typeof value === 'string' && (RECORD_KINDS as readonly string[]).includes(value);

export const CLASSIFICATIONS = ['OFFICIAL', 'OFFICIAL-SENSITIVE'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

/** Which vocabulary fields each kind of record may hold. Anything else is refused by name (400). */
export const KIND_FIELDS: { readonly [K in RecordKind]: readonly Field[] } = {
  incident: [
    'incident_date',
    'incident_summary',
    'children_present',
    'child_involvement',
    'incident_full_report',
    'offence_type',
    'arrest_made',
    'bail_conditions',
    'dash_risk_level',
    'dash_full_answers',
    'risk_factors',
    'previous_incidents_count',
    'previous_domestic_abuse_convictions',
    'other_convictions',
    'restraining_order',
  ],
  risk_assessment: [
    'dash_risk_level',
    'dash_full_answers',
    'risk_factors',
    'marac_referral_status',
    'previous_incidents_count',
    'previous_domestic_abuse_convictions',
    'restraining_order',
  ],
  referral: [
    'marac_referral_status',
    'dash_risk_level',
    'risk_factors',
    'incident_date',
    'incident_summary',
    'children_present',
    'child_involvement',
    'child_protection_plan_status',
    'child_in_need_status',
    'wellbeing_concerns',
    'social_worker_contact',
  ],
  plan_status: ['child_protection_plan_status', 'child_in_need_status', 'looked_after_status', 'social_worker_contact', 'risk_factors'],
  school_note: ['attendance', 'behaviour_notes', 'wellbeing_concerns', 'school_attended'],
  court_order: ['court_orders', 'restraining_order', 'bail_conditions', 'cafcass_recommendation'],
  health_note: ['physical_health', 'mental_health', 'substance_misuse', 'pregnancy', 'gp_details', 'risk_factors'],
};

/**
 * Fields an agency keeps about a person (not about an event). They are disclosed together with that agency's
 * records about the person, under the same decision: an Operation Encompass notification names the child.
 */
export const PERSON_FIELDS = [
  'name',
  'date_of_birth',
  'current_address',
  'school_attended',
  'refuge_address',
  'new_address_after_separation',
  'phone_number',
  'email',
  'gp_details',
] as const satisfies readonly Field[];
export type PersonField = (typeof PERSON_FIELDS)[number];

/** Shared identifiers: they find the same person across agencies (each is unique among persons). */
export const IDENTIFIERS = ['nhs_number', 'unique_pupil_number', 'pnc_id'] as const satisfies readonly Field[];
export type Identifier = (typeof IDENTIFIERS)[number];

/**
 * Facts the gateway derives from what it holds, at the time of each request. A contribution naming one is refused:
 * whether an agreement is in force, how long ago an incident was, or who is asking is never the caller's to say.
 */
export const DERIVED_FACTS = [
  'agreement_in_force',
  'hours_since_incident',
  'requester_is_subject',
  'requester_is_alleged_perpetrator',
  'perpetrator_joined_household_with_children',
  'before_next_school_day_start',
] as const satisfies readonly FactName[];
export type DerivedFact = (typeof DERIVED_FACTS)[number];
export const isDerivedFact = (value: string): value is DerivedFact => (DERIVED_FACTS as readonly string[]).includes(value);

/** Purposes that never read records: `audit` is for reviewing decisions, not reading what they were about. */
export const NON_READING_PURPOSES = ['audit'] as const;

/** A stored record as the store gives it back. */
export interface StoredRecord {
  readonly id: string;
  readonly kind: RecordKind;
  readonly subjectPersonId: string;
  readonly subjectRole: SubjectRole;
  readonly owningAgencyId: string;
  readonly classification: Classification;
  readonly occurredAt: Date;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly facts: Readonly<Record<string, unknown>>;
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface HouseholdMembership {
  readonly id: string;
  readonly householdId: string;
  readonly personId: string;
  readonly subjectRole: SubjectRole;
  /** YYYY-MM-DD */
  readonly from: string;
  /** YYYY-MM-DD, absent while still a member */
  readonly to?: string;
}

/** How a child was involved in an incident (the vocabulary's `child_involvement`: saw / heard / injured). */
export const CHILD_INVOLVEMENT = ['saw', 'heard', 'injured'] as const;

export const DASH_ORDER: Readonly<Record<DashRiskLevel, number>> = { standard: 0, medium: 1, high: 2 };
