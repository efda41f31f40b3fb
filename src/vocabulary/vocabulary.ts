/**
 * The sharing vocabulary: the fixed words of the decision API (../shared/VOCABULARY.md).
 * Stable identifiers: add new ones freely, never rename or reuse one.
 * Every policy, request and audit entry is checked against these lists; an unknown word is refused, never guessed.
 */

export const AGENCY_TYPES = [
  'police',
  'childrens_social_care',
  'midwifery',
  'health_visiting',
  'gp',
  'hospital',
  'mental_health',
  'school',
  'early_years',
  'cafcass',
  'probation',
  'idva_service',
  'housing',
  'substance_misuse_service',
  'refuge',
  'marac',
  'mash',
  'member_of_public',
] as const;
export type AgencyType = (typeof AGENCY_TYPES)[number];

export const ROLES = [
  'practitioner',
  'social_worker',
  'team_manager',
  'police_officer',
  'designated_safeguarding_lead',
  'health_visitor',
  'midwife',
  'gp',
  'idva',
  'family_court_adviser',
  'probation_officer',
  'housing_officer',
  'mash_analyst',
  'marac_chair',
  'caldicott_guardian',
  'data_protection_officer',
  'auditor',
  'system',
  // A member of the public receiving a disclosure or asking for their own data.
  'person_at_risk',
  'parent_or_carer',
  'data_subject',
  'legal_representative',
] as const;
export type Role = (typeof ROLES)[number];

export const PURPOSES = [
  'child_protection_enquiry',
  'child_in_need_assessment',
  'early_help',
  'mash_triage',
  'operation_encompass',
  'marac',
  'dvds_right_to_ask',
  'dvds_right_to_know',
  'family_court_safeguarding',
  'crime_prevention_detection',
  'perpetrator_management',
  'health_care',
  'housing_allocation',
  'research',
  'subject_access',
  'audit',
] as const;
export type Purpose = (typeof PURPOSES)[number];

export const SUBJECT_ROLES = ['child', 'adult_victim', 'perpetrator', 'other_household_member', 'third_party'] as const;
export type SubjectRole = (typeof SUBJECT_ROLES)[number];

/** Fields, grouped as in the vocabulary. Policies grant fields, never whole records. */
export const FIELD_GROUPS = {
  identity: ['name', 'date_of_birth', 'nhs_number', 'unique_pupil_number', 'pnc_id', 'consistent_child_identifier'],
  location: ['current_address', 'school_attended', 'refuge_address', 'new_address_after_separation'],
  incident: [
    'incident_date',
    'incident_summary',
    'children_present',
    'child_involvement',
    'incident_full_report',
    'offence_type',
    'arrest_made',
    'bail_conditions',
  ],
  risk: ['dash_risk_level', 'dash_full_answers', 'marac_referral_status', 'risk_factors'],
  history: ['previous_incidents_count', 'previous_domestic_abuse_convictions', 'other_convictions', 'restraining_order'],
  health: ['physical_health', 'mental_health', 'substance_misuse', 'pregnancy', 'gp_details'],
  social_care: ['child_protection_plan_status', 'child_in_need_status', 'social_worker_contact', 'looked_after_status'],
  education: ['attendance', 'behaviour_notes', 'wellbeing_concerns'],
  court: ['court_orders', 'cafcass_recommendation'],
  contact: ['phone_number', 'email'],
} as const;
export type FieldGroup = keyof typeof FIELD_GROUPS;
export type Field = (typeof FIELD_GROUPS)[FieldGroup][number];
export const FIELDS: readonly Field[] = Object.values(FIELD_GROUPS).flat();

export const DASH_RISK_LEVELS = ['standard', 'medium', 'high'] as const;
export type DashRiskLevel = (typeof DASH_RISK_LEVELS)[number];
export const CONSENT_VALUES = ['given', 'refused', 'withdrawn', 'not_sought'] as const;
export type Consent = (typeof CONSENT_VALUES)[number];

/** What kind of value each fact takes. */
export type FactSpec =
  | { readonly kind: 'boolean' }
  | { readonly kind: 'number'; readonly minimum: number }
  | { readonly kind: 'enum'; readonly values: readonly string[] };

const bool = { kind: 'boolean' } as const;
export const FACT_SPECS = {
  child_present_at_incident: bool,
  child_injured: bool,
  significant_harm_suspected: bool,
  s47_enquiry_open: bool,
  child_protection_plan_active: bool,
  dash_risk_level: { kind: 'enum', values: DASH_RISK_LEVELS },
  marac_referred: bool,
  consent: { kind: 'enum', values: CONSENT_VALUES },
  seeking_consent_would_increase_risk: bool,
  imminent_risk_to_life: bool,
  requester_is_subject: bool,
  requester_is_alleged_perpetrator: bool,
  live_investigation_would_be_prejudiced: bool,
  hours_since_incident: { kind: 'number', minimum: 0 },
  court_proceedings_active: bool,
  agreement_in_force: bool,
  dvds_panel_approved: bool,
  perpetrator_joined_household_with_children: bool,
  recipient_is_person_at_risk: bool,
  requester_acts_for_alleged_perpetrator: bool,
  /**
   * Gateway-only (never taken from a caller): the notification is being made before the start of the next school
   * day after the incident, by the school calendar the gateway is configured with (Operation Encompass).
   */
  before_next_school_day_start: bool,
} as const satisfies Record<string, FactSpec>;
export type FactName = keyof typeof FACT_SPECS;
export const FACT_NAMES = Object.keys(FACT_SPECS) as FactName[];
/** Facts only the gateway works out (from households, records, agreements, the school calendar): never from a caller. */
export const GATEWAY_ONLY_FACTS = [
  'perpetrator_joined_household_with_children',
  'before_next_school_day_start',
] as const satisfies readonly FactName[];
export const isGatewayOnlyFact = (name: string): boolean => (GATEWAY_ONLY_FACTS as readonly string[]).includes(name);

type FactValue<S> = S extends { kind: 'boolean' }
  ? boolean
  : S extends { kind: 'number' }
    ? number
    : S extends { values: readonly (infer V)[] }
      ? V
      : never;
/** The facts of one situation: each optional (an unknown fact is absent, never assumed). */
export type Facts = { [K in FactName]?: FactValue<(typeof FACT_SPECS)[K]> };

export const DECISIONS = ['permit', 'permit_partial', 'deny', 'refer'] as const;
export type DecisionOutcome = (typeof DECISIONS)[number];

/** Type guards: the only way a string becomes a vocabulary word. */
function guard<T extends string>(words: readonly T[]): (value: unknown) => value is T {
  const set = new Set<string>(words);
  return (value: unknown): value is T => typeof value === 'string' && set.has(value);
}
export const isAgencyType = guard(AGENCY_TYPES);
export const isRole = guard(ROLES);
export const isPurpose = guard(PURPOSES);
export const isSubjectRole = guard(SUBJECT_ROLES);
export const isField = guard(FIELDS);
export const isFactName = guard(FACT_NAMES);
