/**
 * "Can I share this?" one question per page: each step's form is read and checked here (pure functions), with
 * GOV.UK error messages in plain words. Only vocabulary words get through (the type guards); nothing is guessed.
 */
import {
  AGENCY_TYPES,
  CONSENT_VALUES,
  DASH_RISK_LEVELS,
  FACT_SPECS,
  isGatewayOnlyFact,
  FIELD_GROUPS,
  PURPOSES,
  ROLES,
  SUBJECT_ROLES,
  isAgencyType,
  isField,
  isPurpose,
  isRole,
  isSubjectRole,
  type FactName,
  type Facts,
  type Field,
  type FieldGroup,
  type Role,
} from '../vocabulary/vocabulary';
import {
  AGENCY_TYPE_LABELS,
  CONSENT_LABELS,
  DASH_RISK_LABELS,
  FACT_LABELS,
  FACT_QUESTIONS,
  FIELD_GROUP_LABELS,
  FIELD_LABELS,
  PURPOSE_HINTS,
  PURPOSE_LABELS,
  ROLE_HINTS,
  ROLE_LABELS,
  SUBJECT_ROLE_LABELS,
} from './labels';
import type { Journey } from './session';

export interface FormError {
  readonly text: string;
  /** `#id` of the first input of the question, for the error summary link. */
  readonly href: string;
}
export type StepResult = { readonly ok: true; readonly journey: Journey } | { readonly ok: false; readonly errors: readonly FormError[] };

export type Form = Readonly<Record<string, unknown>>;

export const STEPS = ['organisation', 'role', 'purpose', 'subject', 'information', 'facts', 'check'] as const;
export type Step = (typeof STEPS)[number];

/** The first step not yet answered ('check' when all are). */
export function nextUnanswered(j: Journey | undefined): Step {
  if (!j?.toAgencyType) return 'organisation';
  if (!j.toRole) return 'role';
  if (!j.purpose) return 'purpose';
  if (!j.subjectRole) return 'subject';
  if (!j.fields?.length) return 'information';
  if (!j.factsAnswered) return 'facts';
  return 'check';
}

function text(form: Form, name: string): string | undefined {
  const value = form[name];
  if (typeof value === 'string') return value.trim();
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0].trim();
  return undefined;
}

function list(form: Form, name: string): string[] {
  const value = form[name];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

export function readOrganisation(form: Form, journey: Journey): StepResult {
  const agency = text(form, 'toAgencyType');
  if (!isAgencyType(agency))
    return { ok: false, errors: [{ text: 'Select which organisation is asking for the information', href: '#toAgencyType' }] };
  // Another organisation has other roles: ask the role again (and the facts, which depend on it).
  if (agency === journey.toAgencyType) return { ok: true, journey };
  const { toRole: _role, factsAnswered: _answered, ...rest } = journey;
  return { ok: true, journey: { ...rest, toAgencyType: agency } };
}

export function readRole(form: Form, journey: Journey, roles: readonly Role[]): StepResult {
  const role = text(form, 'toRole');
  if (!isRole(role) || !roles.includes(role))
    return { ok: false, errors: [{ text: 'Select the role of the person asking', href: '#toRole' }] };
  if (role === journey.toRole) return { ok: true, journey };
  const { factsAnswered: _answered, ...rest } = journey;
  return { ok: true, journey: { ...rest, toRole: role } };
}

export function readPurpose(form: Form, journey: Journey): StepResult {
  const purpose = text(form, 'purpose');
  if (!isPurpose(purpose)) return { ok: false, errors: [{ text: 'Select why the information is needed', href: '#purpose' }] };
  if (purpose === journey.purpose) return { ok: true, journey };
  // Another purpose is decided by other rules, which may need other facts.
  const { factsAnswered: _answered, ...rest } = journey;
  return { ok: true, journey: { ...rest, purpose } };
}

const SUBJECT_REF = /^[A-Za-z0-9][A-Za-z0-9 /._-]{0,63}$/;

export function readSubject(form: Form, journey: Journey): StepResult {
  const subjectRole = text(form, 'subjectRole');
  const ref = text(form, 'subjectRef') ?? '';
  const errors: FormError[] = [];
  if (!isSubjectRole(subjectRole)) errors.push({ text: 'Select who the information is about', href: '#subjectRole' });
  if (ref !== '' && !SUBJECT_REF.test(ref)) {
    errors.push({
      text: 'Case reference must be 64 characters or fewer and use only letters, numbers, spaces, hyphens, full stops and slashes',
      href: '#subjectRef',
    });
  }
  if (errors.length > 0 || !isSubjectRole(subjectRole)) return { ok: false, errors };
  const { subjectRef: _old, ...rest } = journey;
  return { ok: true, journey: { ...rest, subjectRole, ...(ref !== '' ? { subjectRef: ref } : {}) } };
}

export function readInformation(form: Form, journey: Journey): StepResult {
  const given = list(form, 'fields');
  const fields = [...new Set(given.filter(isField))];
  if (given.some((f) => !isField(f))) {
    return { ok: false, errors: [{ text: 'Select information from the list only', href: `#${firstFieldId()}` }] };
  }
  if (fields.length === 0)
    return { ok: false, errors: [{ text: 'Select the information you have been asked to share', href: `#${firstFieldId()}` }] };
  return { ok: true, journey: { ...journey, fields } };
}

// ─── Facts ──────────────────────────────────────────────────────────────────────────────────────────────────

/** How the "What do you know?" page groups the facts. Every fact appears once (checked by the type). */
export const FACT_SECTIONS: ReadonlyArray<{ readonly heading: string; readonly facts: readonly FactName[] }> = [
  {
    heading: 'The incident',
    facts: ['child_present_at_incident', 'child_injured', 'hours_since_incident', 'live_investigation_would_be_prejudiced'],
  },
  { heading: 'Risk', facts: ['significant_harm_suspected', 'imminent_risk_to_life', 'dash_risk_level', 'marac_referred'] },
  { heading: 'Child protection and courts', facts: ['s47_enquiry_open', 'child_protection_plan_active', 'court_proceedings_active'] },
  { heading: 'Consent', facts: ['consent', 'seeking_consent_would_increase_risk'] },
  {
    heading: 'The person asking',
    facts: [
      'requester_is_subject',
      'requester_is_alleged_perpetrator',
      'requester_acts_for_alleged_perpetrator',
      'recipient_is_person_at_risk',
    ],
  },
  { heading: 'Agreements and approvals', facts: ['agreement_in_force', 'dvds_panel_approved'] },
];
{
  // A fact missing from the page could never be given: fail loudly at start-up, not silently at decision time.
  const shown = new Set(FACT_SECTIONS.flatMap((s) => s.facts));
  // Facts only the gateway works out (perpetrator joined a household, the school-day deadline) are never asked.
  const missing = (Object.keys(FACT_SPECS) as FactName[]).filter((f) => !shown.has(f) && !isGatewayOnlyFact(f));
  if (missing.length > 0) throw new Error(`facts missing from the "What do you know?" page: ${missing.join(', ')}`);
}

export const UNKNOWN = 'unknown';
const MAX_HOURS = 100_000;

/** Reads the answers to the facts asked (`asked`: the facts the rules for this purpose use); others are dropped. */
export function readFacts(form: Form, journey: Journey, asked: readonly FactName[]): StepResult {
  const facts: Record<string, boolean | number | string> = {};
  const errors: FormError[] = [];
  for (const section of FACT_SECTIONS) {
    for (const name of section.facts) {
      if (!asked.includes(name)) continue;
      const spec = FACT_SPECS[name];
      const raw = text(form, name) ?? '';
      if (spec.kind === 'boolean') {
        if (raw === 'yes') facts[name] = true;
        else if (raw === 'no') facts[name] = false;
        else if (raw !== UNKNOWN && raw !== '') errors.push({ text: `Select an answer for “${FACT_LABELS[name]}”`, href: `#${name}` });
      } else if (spec.kind === 'number') {
        if (raw === '') continue;
        const value = /^\d{1,6}(\.\d{1,2})?$/.test(raw) ? Number(raw) : Number.NaN;
        if (!Number.isFinite(value) || value < spec.minimum || value > MAX_HOURS) {
          errors.push({
            text: 'Enter the number of hours since the incident as a number, like 10, or leave it empty if you do not know',
            href: `#${name}`,
          });
        } else facts[name] = value;
      } else {
        if (raw === UNKNOWN || raw === '') continue;
        if ((spec.values as readonly string[]).includes(raw)) facts[name] = raw;
        else errors.push({ text: `Select an answer for “${FACT_LABELS[name]}”`, href: `#${name}` });
      }
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, journey: { ...journey, facts: facts, factsAnswered: true } };
}

// ─── View models for the step pages ────────────────────────────────────────────────────────────────────────

interface Item {
  value: string;
  text: string;
  hint?: { text: string };
  checked?: boolean;
}

export function agencyTypeItems(selected?: string): Item[] {
  return AGENCY_TYPES.map((a) => ({ value: a, text: AGENCY_TYPE_LABELS[a], ...(a === selected ? { checked: true } : {}) }));
}

export function roleItems(selected: string | undefined, roles: readonly Role[]): Item[] {
  return ROLES.filter((r) => roles.includes(r)).map((r) => {
    const hint = ROLE_HINTS[r];
    return { value: r, text: ROLE_LABELS[r], ...(hint ? { hint: { text: hint } } : {}), ...(r === selected ? { checked: true } : {}) };
  });
}

export function purposeItems(selected?: string): Item[] {
  return PURPOSES.filter((p) => p !== 'audit').map((p) => ({
    value: p,
    text: PURPOSE_LABELS[p],
    hint: { text: PURPOSE_HINTS[p] },
    ...(p === selected ? { checked: true } : {}),
  }));
}

export function subjectRoleItems(selected?: string): Item[] {
  return SUBJECT_ROLES.map((s) => ({ value: s, text: SUBJECT_ROLE_LABELS[s], ...(s === selected ? { checked: true } : {}) }));
}

function firstFieldId(): string {
  return `fields-${Object.keys(FIELD_GROUPS)[0] ?? 'identity'}`;
}

export function fieldGroups(
  selected: readonly Field[] = [],
): Array<{ group: FieldGroup; idPrefix: string; legend: string; items: Item[] }> {
  return (Object.keys(FIELD_GROUPS) as FieldGroup[]).map((group) => ({
    group,
    idPrefix: `fields-${group}`,
    legend: FIELD_GROUP_LABELS[group],
    items: FIELD_GROUPS[group].map((f) => ({ value: f, text: FIELD_LABELS[f], ...(selected.includes(f) ? { checked: true } : {}) })),
  }));
}

export interface FactQuestion {
  readonly name: FactName;
  readonly question: string;
  readonly kind: 'boolean' | 'number' | 'enum';
  readonly value: string;
  readonly items?: Item[];
  readonly error?: string;
}

export function factSections(
  asked: readonly FactName[],
  facts: Facts = {},
  errors: readonly FormError[] = [],
  submitted?: Form,
): Array<{ heading: string; questions: FactQuestion[] }> {
  return FACT_SECTIONS.filter((section) => section.facts.some((f) => asked.includes(f))).map((section) => ({
    heading: section.heading,
    questions: section.facts
      .filter((f) => asked.includes(f))
      .map((name): FactQuestion => {
        const spec = FACT_SPECS[name];
        const known = facts[name];
        const error = errors.find((e) => e.href === `#${name}`)?.text;
        const value = submitted
          ? (text(submitted, name) ?? '')
          : known === undefined
            ? spec.kind === 'number'
              ? ''
              : UNKNOWN
            : spec.kind === 'boolean'
              ? known
                ? 'yes'
                : 'no'
              : String(known);
        const base = { name, question: FACT_QUESTIONS[name], value, ...(error ? { error } : {}) };
        if (spec.kind === 'boolean') {
          return {
            ...base,
            kind: 'boolean',
            items: [
              { value: 'yes', text: 'Yes' },
              { value: 'no', text: 'No' },
              { value: UNKNOWN, text: 'Not known' },
            ].map((i) => ({ ...i, ...(i.value === value ? { checked: true } : {}) })),
          };
        }
        if (spec.kind === 'number') return { ...base, kind: 'number' };
        const labels: Record<string, string> = name === 'consent' ? CONSENT_LABELS : DASH_RISK_LABELS;
        const values: readonly string[] = name === 'consent' ? CONSENT_VALUES : DASH_RISK_LEVELS;
        return {
          ...base,
          kind: 'enum',
          items: [...values.map((v) => ({ value: v, text: labels[v] ?? v })), { value: UNKNOWN, text: 'Not known' }].map((i) => ({
            ...i,
            ...(i.value === value ? { checked: true } : {}),
          })),
        };
      }),
  }));
}

/** "Yes" / "No" / "High" / "10 hours" for the check-your-answers page. */
export function describeFactValue(name: FactName, value: boolean | number | string): string {
  const spec = FACT_SPECS[name];
  if (spec.kind === 'boolean') return value ? 'Yes' : 'No';
  if (spec.kind === 'number') return `${String(value)} hour${value === 1 ? '' : 's'}`;
  const labels: Record<string, string> = name === 'consent' ? CONSENT_LABELS : DASH_RISK_LABELS;
  return labels[String(value)] ?? String(value);
}
