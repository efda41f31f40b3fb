/**
 * "What would make this shareable": for a withheld field, the nearest lawful routes in the catalogue.
 *
 * A route is a PERMIT rule that grants the field, lets THIS discloser share (the discloser never changes), covers
 * THIS subject (whose data it is never changes), and would apply if some of: the facts, the recipient, the purpose
 * were different. Facts about who is asking (the alleged perpetrator, someone acting for them, the data subject)
 * and about time (hours since the incident, the school-day deadline) are never offered as something to change: a
 * route to the perpetrator, or "if it were earlier", is no route.
 *
 * Every candidate is then decided again by the real engine with the changes applied; only when the field is then
 * permitted BY THAT RULE is the route offered. So a route a deny rule forbids is never offered, and routes are
 * computed from the catalogue, never written by hand. Nearest first: fewest facts to change, a recipient or purpose
 * change counting as two; ties go to the purpose listed first in the vocabulary (child protection first), then to
 * catalogue order; at most three per field.
 */
import { AGENCY_TYPES, PURPOSES, ROLES, type AgencyType, type Facts, type Field, type Purpose, type Role } from '../vocabulary/vocabulary';
import type { FactScalar, FactTest, PolicyRule, Selector } from './model';
import { obligationOf } from './obligation';
import type { DecisionInput, SharingRoute } from './types';
import { agencyPhrase, factPhrase, purposePhrase, rolePhrase } from './words';

/** Facts that describe who asks or when: never something a route may ask to change. */
export const FIXED_FACTS: ReadonlySet<string> = new Set([
  'requester_is_alleged_perpetrator',
  'requester_acts_for_alleged_perpetrator',
  'requester_is_subject',
  'hours_since_incident',
  'before_next_school_day_start',
  'perpetrator_joined_household_with_children',
]);
/** Purposes a route never switches to: they are not ways of sharing with a partner agency. */
const NO_ROUTE_PURPOSES: ReadonlySet<Purpose> = new Set(['research', 'subject_access', 'audit']);
export const MAX_ROUTES_PER_FIELD = 3;

/** Decide `input` again; the permit rules that granted `field`, or undefined when it is not permitted. */
export type Recheck = (input: DecisionInput, field: Field) => readonly PolicyRule[] | undefined;

function selects<T extends string>(sel: Selector<T>, value: T | undefined): boolean {
  if (sel.kind === 'any') return true;
  if (value === undefined) return false;
  return sel.kind === 'only' ? sel.values.includes(value) : !sel.values.includes(value);
}

function enumerate<T extends string>(sel: Selector<T>, all: readonly T[]): T[] {
  return all.filter((v) => selects(sel, v));
}

function holds(test: FactTest, facts: Facts): boolean {
  const v: unknown = (facts as Record<string, unknown>)[test.fact];
  if (v === undefined) return false;
  switch (test.op) {
    case 'eq':
      return v === test.value;
    case 'not':
      return v !== test.value;
    case 'in':
      return (test.values as readonly unknown[]).includes(v);
    case 'lte':
      return typeof v === 'number' && v <= test.value;
    case 'lt':
      return typeof v === 'number' && v < test.value;
    case 'gte':
      return typeof v === 'number' && v >= test.value;
    case 'gt':
      return typeof v === 'number' && v > test.value;
  }
}

/** A value that satisfies the test (undefined when none can be named simply). */
function satisfying(test: FactTest): FactScalar | undefined {
  switch (test.op) {
    case 'eq':
      return test.value;
    case 'in':
      return test.values[0];
    case 'not':
      return typeof test.value === 'boolean' ? !test.value : undefined;
    default:
      return undefined;
  }
}

/** For one alternative (the rule's `when` plus one `whenAny` group): the facts to change, or undefined if it cannot. */
function neededFacts(tests: readonly FactTest[], facts: Facts): Record<string, FactScalar> | undefined {
  const needed: Record<string, FactScalar> = {};
  for (const t of tests) {
    if (holds(t, facts)) continue;
    if (FIXED_FACTS.has(t.fact)) return undefined;
    const value = satisfying(t);
    if (value === undefined) return undefined;
    needed[t.fact] = value;
  }
  return needed;
}

/** The first provision a rule cites, without its explanatory brackets: "Children Act 1989 s.47(1) and s.47(9)-(11)". */
function shortStatute(rule: PolicyRule): string {
  const statute = rule.lawfulBasis?.statute ?? rule.title;
  const first = (statute.split(/;\s*/)[0] ?? statute).replace(/\s+/g, ' ');
  // Drop explanatory brackets ("(duty to assist enquiries)"), keep subsection numbers ("s.47(9)-(11)").
  return first.replace(/\s*\([^()]*\s[^()]*\)/g, '').trim();
}

function recipientText(agencies: readonly AgencyType[], roles: readonly Role[] | undefined): string {
  const who = agencies.length > 4 ? 'a partner agency' : agencies.map(agencyPhrase).join(' or ');
  return roles && roles.length <= 3 ? `${who} (${roles.map(rolePhrase).join(' or ')})` : who;
}

export function routesFor(request: DecisionInput, field: Field, rules: readonly PolicyRule[], recheck: Recheck): SharingRoute[] {
  const found: Array<SharingRoute & { readonly cost: number; readonly order: number; readonly purposeRank: number }> = [];
  rules.forEach((rule, order) => {
    if (rule.effect !== 'permit' || rule.fields === 'all' || !rule.fields.includes(field)) return;
    if (!selects(rule.from.agencyTypes, request.from.agencyType) || !selects(rule.from.roles, request.from.role)) return;
    if (!selects(rule.subjectRoles, request.subjectRole)) return;

    const sameRecipient = selects(rule.to.agencyTypes, request.to.agencyType) && selects(rule.to.roles, request.to.role);
    const agencies = sameRecipient
      ? [request.to.agencyType]
      : enumerate(rule.to.agencyTypes, AGENCY_TYPES).filter(
          (a) => a !== 'member_of_public' || request.to.agencyType === 'member_of_public',
        );
    if (agencies.length === 0) return;
    const roles = rule.to.roles.kind === 'any' ? undefined : enumerate(rule.to.roles, ROLES);
    const toAgency = agencies.includes(request.to.agencyType) ? request.to.agencyType : (agencies[0] as AgencyType);
    const toRole = roles === undefined ? request.to.role : roles.includes(request.to.role) ? request.to.role : (roles[0] as Role);

    const samePurpose = selects(rule.purposes, request.purpose);
    const purposes = samePurpose ? [request.purpose] : enumerate(rule.purposes, PURPOSES).filter((p) => !NO_ROUTE_PURPOSES.has(p));
    const purpose = purposes[0];
    if (purpose === undefined) return;

    const alternatives = rule.whenAny.length === 0 ? [rule.when] : rule.whenAny.map((g) => [...rule.when, ...g]);
    let best: { facts: Record<string, FactScalar>; cost: number } | undefined;
    for (const tests of alternatives) {
      const facts = neededFacts(tests, request.facts);
      if (!facts) continue;
      const cost = Object.keys(facts).length + (sameRecipient ? 0 : 2) + (samePurpose ? 0 : 2);
      if (cost === 0) continue; // nothing to change: the field is withheld for another reason (a deny rule)
      const hypothetical: DecisionInput = {
        ...request,
        to: { agencyType: toAgency, role: toRole },
        purpose,
        fields: [field],
        facts: { ...request.facts, ...facts } as Facts,
      };
      const granting = recheck(hypothetical, field);
      if (!granting?.includes(rule)) continue;
      if (!best || cost < best.cost) best = { facts, cost };
    }
    if (!best) return;

    const changes: SharingRoute['changes'][number][] = [];
    if (Object.keys(best.facts).length > 0) changes.push('facts');
    if (!sameRecipient) changes.push('recipient');
    if (!samePurpose) changes.push('purpose');
    const obligation = obligationOf(rule, request.from.agencyType, request.on ?? '9999-12-31');
    const conditions = Object.entries(best.facts).map(([f, v]) => factPhrase(f, v));
    const to = sameRecipient ? 'this recipient' : recipientText(agencies, roles);
    const forPurpose = samePurpose ? '' : ` for ${purposes.map(purposePhrase).join(' or ')}`;
    const verb = obligation.kind === 'duty' ? 'must' : 'may';
    const explanation = `${conditions.length ? `If ${conditions.join(' and ')}, ` : ''}'${field}' ${verb} be shared with ${to}${forPurpose}, under ${shortStatute(rule)}.`;
    found.push({
      rule: rule.id,
      title: rule.title,
      changes,
      facts: best.facts,
      ...(sameRecipient ? {} : { recipient: { agencyTypes: agencies, ...(roles ? { roles } : {}) } }),
      ...(samePurpose ? {} : { purposes }),
      statute: rule.lawfulBasis?.statute ?? '',
      sharing: obligation.kind,
      explanation: explanation.charAt(0).toUpperCase() + explanation.slice(1),
      cost: best.cost,
      order,
      purposeRank: PURPOSES.indexOf(purpose),
    });
  });
  return found
    .sort((a, b) => a.cost - b.cost || a.purposeRank - b.purposeRank || a.order - b.order)
    .slice(0, MAX_ROUTES_PER_FIELD)
    .map(({ cost: _cost, order: _order, purposeRank: _rank, ...route }) => route);
}
