/**
 * Vocabulary words → the plain words a practitioner reads on the pages. The words themselves stay the contract
 * (src/vocabulary/vocabulary.ts); these labels are presentation only and never decide anything.
 */
import type {
  AgencyType,
  Consent,
  DashRiskLevel,
  DecisionOutcome,
  FactName,
  Field,
  FieldGroup,
  Purpose,
  Role,
  SubjectRole,
} from '../vocabulary/vocabulary';
import type { WithheldCode } from '../policy/types';
import { AUDIT_KIND_LABELS, AUDIT_OUTCOME_LABELS } from '../audit/kinds';

export const AGENCY_TYPE_LABELS: Record<AgencyType, string> = {
  police: 'Police',
  childrens_social_care: "Children's social care",
  midwifery: 'Midwifery service',
  health_visiting: 'Health visiting service',
  gp: 'GP practice',
  hospital: 'Hospital',
  mental_health: 'Mental health service',
  school: 'School',
  early_years: 'Early years setting (nursery or childminder)',
  cafcass: 'Cafcass',
  probation: 'Probation Service',
  idva_service: 'IDVA service (independent domestic violence advisers)',
  housing: 'Housing service',
  substance_misuse_service: 'Drug and alcohol service',
  refuge: 'Refuge',
  marac: 'MARAC (multi-agency risk assessment conference)',
  mash: 'MASH (multi-agency safeguarding hub)',
  member_of_public: 'A member of the public',
};

export const ROLE_LABELS: Record<Role, string> = {
  practitioner: 'Practitioner',
  social_worker: 'Social worker',
  team_manager: 'Team manager',
  police_officer: 'Police officer',
  designated_safeguarding_lead: 'Designated safeguarding lead',
  health_visitor: 'Health visitor',
  midwife: 'Midwife',
  gp: 'GP',
  idva: 'IDVA (independent domestic violence adviser)',
  family_court_adviser: 'Family court adviser',
  probation_officer: 'Probation officer',
  housing_officer: 'Housing officer',
  mash_analyst: 'MASH analyst',
  marac_chair: 'MARAC chair',
  caldicott_guardian: 'Caldicott Guardian',
  data_protection_officer: 'Data protection officer',
  auditor: 'Auditor',
  system: 'Case management system (no person)',
  person_at_risk: 'The person at risk',
  parent_or_carer: 'A parent or carer',
  data_subject: 'The person the information is about',
  legal_representative: 'A legal representative (e.g. a solicitor)',
};

export const ROLE_HINTS: Partial<Record<Role, string>> = {
  designated_safeguarding_lead: "A school's or early years setting's key adult for safeguarding",
  practitioner: 'Any other professional working with the family',
};

export const PURPOSE_LABELS: Record<Purpose, string> = {
  child_protection_enquiry: 'Child protection enquiry',
  child_in_need_assessment: 'Child in need assessment',
  early_help: 'Early help',
  mash_triage: 'MASH triage',
  operation_encompass: 'Operation Encompass',
  marac: 'MARAC',
  dvds_right_to_ask: "Clare's Law: right to ask",
  dvds_right_to_know: "Clare's Law: right to know",
  family_court_safeguarding: 'Family court safeguarding',
  crime_prevention_detection: 'Preventing or detecting crime',
  perpetrator_management: 'Managing a perpetrator',
  health_care: 'Direct health care',
  housing_allocation: 'Housing allocation',
  research: 'Research',
  subject_access: 'Subject access request',
  audit: 'Audit',
};

export const PURPOSE_HINTS: Record<Purpose, string> = {
  child_protection_enquiry:
    'Children Act 1989 section 47: there is reasonable cause to suspect a child is suffering, or likely to suffer, significant harm',
  child_in_need_assessment: 'Children Act 1989 section 17: assessing whether a child needs services',
  early_help: 'Support for a family before problems get worse',
  mash_triage: 'The multi-agency safeguarding hub deciding what happens to a referral',
  operation_encompass: 'Police telling a school after a domestic abuse incident a child was involved in',
  marac: 'A high-risk domestic abuse case conference',
  dvds_right_to_ask: 'Domestic Violence Disclosure Scheme: someone asks about a partner’s past',
  dvds_right_to_know: 'Domestic Violence Disclosure Scheme: police decide someone needs to be told',
  family_court_safeguarding: 'Cafcass safeguarding checks and section 7 reports',
  crime_prevention_detection: 'Preventing or detecting a crime',
  perpetrator_management: 'Probation or MAPPA-style management of a perpetrator',
  health_care: 'Direct care of a patient',
  housing_allocation: 'Deciding where a family can live',
  research: 'Studies and statistics',
  subject_access: 'A person asking for their own information',
  audit: 'Reviewing decisions, not reading records',
};

export const SUBJECT_ROLE_LABELS: Record<SubjectRole, string> = {
  child: 'A child',
  adult_victim: 'An adult victim',
  perpetrator: 'The perpetrator, or alleged perpetrator',
  other_household_member: 'Another member of the household',
  third_party: 'Someone else (a third party)',
};

export const FIELD_GROUP_LABELS: Record<FieldGroup, string> = {
  identity: 'Who they are',
  location: 'Where they are',
  incident: 'The incident',
  risk: 'Risk',
  history: 'History',
  health: 'Health',
  social_care: 'Social care',
  education: 'Education',
  court: 'Court',
  contact: 'Contact details',
};

export const FIELD_LABELS: Record<Field, string> = {
  name: 'Name',
  date_of_birth: 'Date of birth',
  nhs_number: 'NHS number',
  unique_pupil_number: 'Unique pupil number',
  pnc_id: 'Police National Computer (PNC) ID',
  consistent_child_identifier: 'Consistent child identifier',
  current_address: 'Current address',
  school_attended: 'School attended',
  refuge_address: 'Refuge address',
  new_address_after_separation: 'New address after separation',
  incident_date: 'Date of the incident',
  incident_summary: 'Summary of the incident',
  children_present: 'Which children were present',
  child_involvement: 'How the child was involved (saw, heard or was injured)',
  incident_full_report: 'Full police incident report',
  offence_type: 'Type of offence',
  arrest_made: 'Whether an arrest was made',
  bail_conditions: 'Bail conditions',
  dash_risk_level: 'DASH risk level',
  dash_full_answers: 'Full DASH risk checklist answers',
  marac_referral_status: 'MARAC referral status',
  risk_factors: 'Risk factors',
  previous_incidents_count: 'Number of previous incidents',
  previous_domestic_abuse_convictions: 'Previous domestic abuse convictions',
  other_convictions: 'Other convictions',
  restraining_order: 'Restraining order',
  physical_health: 'Physical health',
  mental_health: 'Mental health',
  substance_misuse: 'Drug or alcohol use',
  pregnancy: 'Pregnancy',
  gp_details: 'GP details',
  child_protection_plan_status: 'Child protection plan status',
  child_in_need_status: 'Child in need status',
  social_worker_contact: 'Social worker contact details',
  looked_after_status: 'Looked after (in care) status',
  attendance: 'School attendance',
  behaviour_notes: 'Behaviour notes',
  wellbeing_concerns: 'Wellbeing concerns',
  court_orders: 'Court orders',
  cafcass_recommendation: 'Cafcass recommendation',
  phone_number: 'Phone number',
  email: 'Email address',
};

/** Boolean facts: the question asked on the "What do you know?" page. */
export const FACT_QUESTIONS: Record<FactName, string> = {
  child_present_at_incident: 'Was a child present at the incident?',
  child_injured: 'Was a child injured?',
  significant_harm_suspected: 'Do you suspect a child is suffering, or likely to suffer, significant harm?',
  s47_enquiry_open: 'Is a child protection (section 47) enquiry open?',
  child_protection_plan_active: 'Is there an active child protection plan?',
  dash_risk_level: 'What is the DASH risk level?',
  marac_referred: 'Has the case been referred to MARAC?',
  consent: 'Has the person agreed to their information being shared?',
  seeking_consent_would_increase_risk: 'Would asking for consent increase the risk to anyone?',
  imminent_risk_to_life: 'Is there an immediate risk to someone’s life?',
  requester_is_subject: 'Is the person asking for the information the person it is about?',
  requester_is_alleged_perpetrator: 'Is the person asking the alleged perpetrator, or acting for them?',
  live_investigation_would_be_prejudiced: 'Would sharing harm a live police investigation?',
  hours_since_incident: 'How many hours ago did the incident happen?',
  court_proceedings_active: 'Are family court proceedings under way?',
  agreement_in_force: 'Is there a data sharing agreement between the two agencies?',
  dvds_panel_approved: "Has a Clare's Law (DVDS) panel approved the disclosure?",
  perpetrator_joined_household_with_children: 'Has the perpetrator joined a household with children?',
  recipient_is_person_at_risk: 'Is the person you would tell the person at risk, or the person best placed to protect them?',
  requester_acts_for_alleged_perpetrator: 'Is the person asking acting for the alleged perpetrator (for example a solicitor or relative)?',
  before_next_school_day_start: 'Is it still before the start of the next school day after the incident?',
};

/** Short names of facts, for the check-your-answers page and the console. */
export const FACT_LABELS: Record<FactName, string> = {
  child_present_at_incident: 'Child present at the incident',
  child_injured: 'Child injured',
  significant_harm_suspected: 'Significant harm suspected',
  s47_enquiry_open: 'Section 47 enquiry open',
  child_protection_plan_active: 'Child protection plan active',
  dash_risk_level: 'DASH risk level',
  marac_referred: 'Referred to MARAC',
  consent: 'Consent',
  seeking_consent_would_increase_risk: 'Asking for consent would increase risk',
  imminent_risk_to_life: 'Immediate risk to life',
  requester_is_subject: 'Person asking is the subject',
  requester_is_alleged_perpetrator: 'Person asking is, or acts for, the alleged perpetrator',
  live_investigation_would_be_prejudiced: 'Sharing would harm a live investigation',
  hours_since_incident: 'Hours since the incident',
  court_proceedings_active: 'Family court proceedings under way',
  agreement_in_force: 'Data sharing agreement in force',
  dvds_panel_approved: "Clare's Law panel approved",
  perpetrator_joined_household_with_children: 'Perpetrator joined a household with children',
  recipient_is_person_at_risk: 'Recipient is the person at risk (or best placed to protect them)',
  requester_acts_for_alleged_perpetrator: 'Person asking acts for the alleged perpetrator',
  before_next_school_day_start: 'Before the start of the next school day',
};

export const CONSENT_LABELS: Record<Consent, string> = {
  given: 'Yes, consent was given',
  refused: 'No, consent was refused',
  withdrawn: 'Consent was given but has been withdrawn',
  not_sought: 'Consent has not been asked for',
};

export const DASH_RISK_LABELS: Record<DashRiskLevel, string> = {
  standard: 'Standard',
  medium: 'Medium',
  high: 'High',
};

/** The answer's headline, as the practitioner reads it. */
export const OUTCOME_HEADINGS: Record<DecisionOutcome, string> = {
  permit: 'Yes, you can share',
  permit_partial: 'You can share some of this',
  deny: 'Do not share',
  refer: 'Ask your manager',
};

/** Short names of every ledger outcome and kind, for tables and filters: one list each, in src/audit/kinds.ts. */
export const OUTCOME_LABELS: Readonly<Record<string, string>> = AUDIT_OUTCOME_LABELS;
export const KIND_LABELS: Readonly<Record<string, string>> = AUDIT_KIND_LABELS;

export const WITHHELD_CODE_LABELS: Record<WithheldCode, string> = {
  no_rule_permits: 'No rule allows it',
  denied_by_rule: 'A rule forbids it',
  needs_referral: 'A manager must decide',
};

/** A label for any word, falling back to the word itself (for words a newer catalogue may add). */
export function labelOf(map: Readonly<Record<string, string>>, word: string | null | undefined): string {
  if (word === null || word === undefined || word === '') return '';
  return Object.prototype.hasOwnProperty.call(map, word) ? (map[word] ?? word) : word;
}
