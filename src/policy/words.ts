/**
 * Plain-English phrases for vocabulary words, used only to write reasons a practitioner can read.
 * Decisions never depend on these strings.
 */
import type { AgencyType, Field, Purpose, Role } from '../vocabulary/vocabulary';
import type { FactTest } from './model';

/** The disclosing agency as the subject of a sentence: "police may share ...". */
const AGENCY_AS_DISCLOSER: Record<AgencyType, string> = {
  police: 'police',
  childrens_social_care: "children's social care",
  midwifery: 'a midwifery service',
  health_visiting: 'a health visiting service',
  gp: 'a GP practice',
  hospital: 'a hospital',
  mental_health: 'a mental health service',
  school: 'a school',
  early_years: 'an early years setting',
  cafcass: 'Cafcass',
  probation: 'the Probation Service',
  idva_service: 'an IDVA service',
  housing: 'a housing service',
  substance_misuse_service: 'a substance misuse service',
  refuge: 'a refuge',
  marac: 'the MARAC',
  mash: 'the MASH',
  member_of_public: 'a member of the public',
};

/** The recipient agency in the possessive: "a school's designated safeguarding lead". */
const AGENCY_POSSESSIVE: Record<AgencyType, string> = {
  police: "a police force's",
  childrens_social_care: "children's social care's",
  midwifery: "a midwifery service's",
  health_visiting: "a health visiting service's",
  gp: "a GP practice's",
  hospital: "a hospital's",
  mental_health: "a mental health service's",
  school: "a school's",
  early_years: "an early years setting's",
  cafcass: "Cafcass's",
  probation: "the Probation Service's",
  idva_service: "an IDVA service's",
  housing: "a housing service's",
  substance_misuse_service: "a substance misuse service's",
  refuge: "a refuge's",
  marac: "the MARAC's",
  mash: "the MASH's",
  member_of_public: "a member of the public's",
};

const ROLE: Record<Role, string> = {
  practitioner: 'practitioner',
  social_worker: 'social worker',
  team_manager: 'team manager',
  police_officer: 'police officer',
  designated_safeguarding_lead: 'designated safeguarding lead',
  health_visitor: 'health visitor',
  midwife: 'midwife',
  gp: 'GP',
  idva: 'IDVA',
  family_court_adviser: 'family court adviser',
  probation_officer: 'probation officer',
  housing_officer: 'housing officer',
  mash_analyst: 'MASH analyst',
  marac_chair: 'MARAC chair',
  caldicott_guardian: 'Caldicott Guardian',
  data_protection_officer: 'data protection officer',
  auditor: 'auditor',
  system: 'case management system',
  person_at_risk: 'person at risk',
  parent_or_carer: 'parent or carer',
  data_subject: 'person the information is about',
  legal_representative: 'legal representative',
};

/** Who a referral goes to: "a team manager", "the Caldicott Guardian". */
export function referralTarget(role: Role): string {
  const singular: readonly Role[] = ['caldicott_guardian', 'data_protection_officer', 'marac_chair'];
  return `${singular.includes(role) ? 'the' : /^[aeiouAEIOU]/.test(ROLE[role]) ? 'an' : 'a'} ${ROLE[role]}`;
}

const PURPOSE: Record<Purpose, string> = {
  child_protection_enquiry: 'a child protection enquiry (Children Act 1989 s.47)',
  child_in_need_assessment: 'a child in need assessment (Children Act 1989 s.17)',
  early_help: 'early help',
  mash_triage: 'MASH triage',
  operation_encompass: 'Operation Encompass',
  marac: 'a MARAC',
  dvds_right_to_ask: "a Clare's Law (DVDS) right to ask application",
  dvds_right_to_know: "a Clare's Law (DVDS) right to know disclosure",
  family_court_safeguarding: 'Cafcass family court safeguarding checks',
  crime_prevention_detection: 'preventing or detecting crime',
  perpetrator_management: 'managing a perpetrator',
  health_care: 'direct health care',
  housing_allocation: 'housing allocation',
  research: 'research',
  subject_access: 'a subject access request',
  audit: 'audit',
};

export function discloserPhrase(agency: AgencyType): string {
  return AGENCY_AS_DISCLOSER[agency];
}

export function recipientPhrase(agency: AgencyType, role: Role): string {
  if (agency === 'member_of_public') {
    const who: readonly Role[] = ['person_at_risk', 'parent_or_carer', 'data_subject', 'legal_representative'];
    return who.includes(role) ? `a member of the public (the ${ROLE[role]})` : 'a member of the public';
  }
  return `${AGENCY_POSSESSIVE[agency]} ${ROLE[role]}`;
}

export function purposePhrase(purpose: Purpose): string {
  return PURPOSE[purpose];
}

/** 'name', 'incident_date' and 'child_involvement' */
export function fieldList(fields: readonly Field[]): string {
  const quoted = fields.map((f) => `'${f}'`);
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1] ?? ''}`;
}

/** "hours_since_incident is at most 72" */
export function describeTest(test: FactTest): string {
  switch (test.op) {
    case 'eq':
      return `${test.fact} is ${String(test.value)}`;
    case 'not':
      return `${test.fact} is known and is not ${String(test.value)}`;
    case 'in':
      return `${test.fact} is one of ${test.values.map(String).join(', ')}`;
    case 'lte':
      return `${test.fact} is at most ${test.value}`;
    case 'lt':
      return `${test.fact} is less than ${test.value}`;
    case 'gte':
      return `${test.fact} is at least ${test.value}`;
    case 'gt':
      return `${test.fact} is more than ${test.value}`;
  }
}

/** A fact as a plain-English condition: "significant harm is suspected", "consent has been given". */
const BOOLEAN_FACT: Record<string, readonly [whenTrue: string, whenFalse: string]> = {
  child_present_at_incident: ['the child was present at the incident', 'the child was not present at the incident'],
  child_injured: ['the child was injured', 'the child was not injured'],
  significant_harm_suspected: ['significant harm to a child is suspected', 'significant harm is not suspected'],
  s47_enquiry_open: ['a s.47 child protection enquiry is open', 'no s.47 enquiry is open'],
  child_protection_plan_active: ['the child has a child protection plan', 'the child has no child protection plan'],
  marac_referred: ['the case has been referred to the MARAC', 'the case has not been referred to the MARAC'],
  seeking_consent_would_increase_risk: ['seeking consent would increase the risk', 'seeking consent would not increase the risk'],
  imminent_risk_to_life: ['there is an imminent risk to life', 'there is no imminent risk to life'],
  requester_is_subject: ['the person asking is the data subject', 'the person asking is not the data subject'],
  requester_is_alleged_perpetrator: [
    'the person asking is the alleged perpetrator',
    'the person asking has been checked and is not the alleged perpetrator',
  ],
  live_investigation_would_be_prejudiced: [
    'sharing would prejudice a live investigation',
    'sharing would not prejudice a live investigation',
  ],
  court_proceedings_active: ['family court proceedings are active', 'no family court proceedings are active'],
  agreement_in_force: ['a data sharing agreement covering both agencies is in force', 'no data sharing agreement is in force'],
  dvds_panel_approved: [
    "the Clare's Law decision-making forum has approved the disclosure",
    "the Clare's Law forum has not approved the disclosure",
  ],
  perpetrator_joined_household_with_children: [
    'a perpetrator has joined a household with children',
    'no perpetrator has joined the household',
  ],
  recipient_is_person_at_risk: [
    'the recipient is the person at risk, or the person best placed to protect them',
    'the recipient is not the person at risk',
  ],
  requester_acts_for_alleged_perpetrator: [
    'the person asking acts for the alleged perpetrator',
    'the person asking does not act for the alleged perpetrator',
  ],
  before_next_school_day_start: [
    'it is still before the start of the next school day after the incident',
    'the next school day after the incident has already started',
  ],
};

export function factPhrase(fact: string, value: boolean | number | string): string {
  if (typeof value === 'boolean') {
    const pair = BOOLEAN_FACT[fact];
    if (pair) return value ? pair[0] : pair[1];
    return `${fact} is ${String(value)}`;
  }
  if (fact === 'consent') return value === 'not_sought' ? 'consent has not been sought' : `consent has been ${String(value)}`;
  if (fact === 'dash_risk_level') return `the DASH risk level is ${String(value)}`;
  if (fact === 'hours_since_incident') return `the incident was ${String(value)} hours ago`;
  return `${fact} is ${String(value)}`;
}

/** "police" / "children's social care" as a recipient type (no role): "share with children's social care". */
export function agencyPhrase(agency: AgencyType): string {
  return AGENCY_AS_DISCLOSER[agency];
}

export function rolePhrase(role: Role): string {
  return ROLE[role];
}
