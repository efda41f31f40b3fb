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
  if (agency === 'member_of_public') return 'a member of the public';
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
