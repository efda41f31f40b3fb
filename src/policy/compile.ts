/**
 * Compiling the catalogue into a CASL ability.
 *
 * Why CASL: it is a small, widely used, well-tested attribute-based access control library that already does the
 * two things this engine must get exactly right — matching conditions against a subject's attributes, and
 * granting or forbidding access per *field* rather than per record — and it answers "which rule decided this?"
 * (`relevantRuleFor`, `rulesFor`, `rule.origin`). We do not hand-roll a rule matcher.
 *
 * The subject is a `Disclosure`: who discloses (`fromAgencyType`, `fromRole`), who receives (`toAgencyType`,
 * `toRole`), why (`purpose`), whose data (`subjectRole`) and what is known (`facts`). Every rule becomes:
 *   permit → can('disclose', 'Disclosure', fields, conditions)
 *   refer  → can('refer',    'Disclosure', fields, conditions)
 *   deny   → cannot('disclose', ...) AND cannot('refer', ...)      (fields: all → no field list)
 * with conditions as mongo-style queries on dotted paths, e.g.
 *   { 'toAgencyType': {$exists: true, $in: ['school']}, 'facts.hours_since_incident': {$exists: true, $lte: 72} }
 *
 * Precedence: CASL lets the LAST-defined matching rule win. We add all permits, then all refers, then all denies,
 * so any matching deny overrides every permit and every refer, whatever file either is in. Within one effect,
 * rules keep catalogue order (files sorted by name, rules in file order); that only decides which of several
 * matching deny rules is named first, never whether something is shared.
 *
 * Every test carries `$exists: true`: without it CASL's matcher treats a missing fact as satisfying `$lte`, `$ne`
 * and `$nin` (`undefined <= 72` is not false to every comparator). A missing fact must never satisfy a condition.
 * CASL's mongo matcher has no `$or`, so a rule with `whenAny` becomes one CASL rule per alternative, all mapped
 * back to the same catalogue rule.
 */
import { createMongoAbility, type ForcedSubject, type MongoAbility, type MongoQuery, type RawRuleOf } from '@casl/ability';
import type { AgencyType, Facts, Purpose, Role, SubjectRole } from '../vocabulary/vocabulary';
import type { FactTest, PolicyRule, Selector } from './model';

export type PolicyAction = 'disclose' | 'refer';
export const DISCLOSURE = 'Disclosure';

/** The attributes every rule is matched against. */
export interface Disclosure {
  readonly fromAgencyType: AgencyType;
  readonly fromRole?: Role;
  readonly toAgencyType: AgencyType;
  readonly toRole: Role;
  readonly purpose: Purpose;
  readonly subjectRole: SubjectRole;
  readonly facts: Facts;
}
export type DisclosureSubject = Disclosure & ForcedSubject<typeof DISCLOSURE>;
export type PolicyAbility = MongoAbility<[PolicyAction, typeof DISCLOSURE | DisclosureSubject], MongoQuery>;
type CaslRawRule = RawRuleOf<PolicyAbility>;

export interface CompiledPolicy {
  readonly ability: PolicyAbility;
  /** The catalogue rules compiled into it, in catalogue order (for an indexed policy: the candidates of its parties). */
  readonly rules: readonly PolicyRule[];
  /** The catalogue rule a CASL rule was compiled from (by the CASL rule's `origin`). */
  readonly ruleOf: (origin: unknown) => PolicyRule | undefined;
}

export function compilePolicy(rules: readonly PolicyRule[]): CompiledPolicy {
  const origins = new Map<unknown, PolicyRule>();
  const raw: CaslRawRule[] = [];
  const add = (rule: PolicyRule, action: PolicyAction, inverted: boolean): void => {
    for (const conditions of conditionsOf(rule)) {
      const caslRule: CaslRawRule = {
        action,
        subject: DISCLOSURE,
        ...(rule.fields === 'all' ? {} : { fields: [...rule.fields] }),
        ...(Object.keys(conditions).length ? { conditions } : {}),
        ...(inverted ? { inverted: true } : {}),
        ...(rule.reason !== undefined ? { reason: rule.reason } : {}),
      };
      origins.set(caslRule, rule);
      raw.push(caslRule);
    }
  };

  for (const rule of rules) if (rule.effect === 'permit') add(rule, 'disclose', false);
  for (const rule of rules) if (rule.effect === 'refer') add(rule, 'refer', false);
  for (const rule of rules) {
    if (rule.effect !== 'deny') continue;
    add(rule, 'disclose', true);
    add(rule, 'refer', true);
  }

  // Subjects are plain objects tagged with `subject('Disclosure', ...)`; CASL's default detection reads that tag.
  const ability = createMongoAbility<PolicyAbility>(raw);
  return { ability, rules, ruleOf: (origin) => origins.get(origin) };
}

/**
 * The catalogue indexed by the parties of a disclosure: who discloses (agency type and role), who receives (agency
 * type and role), why, and whose data. A rule can only match a disclosure if every one of its selectors selects
 * these six values (CASL tests each as `$exists` plus `$in`/`$nin`), so for each such combination the engine asks
 * CASL about the candidate rules only — the same rules match, in the same order of precedence, as with the whole
 * catalogue, because the rules left out could never have matched. Each combination's ability is compiled the first
 * time it is asked and kept (at most `limit`, oldest forgotten first).
 */
export type PolicyIndex = (disclosure: Disclosure) => CompiledPolicy;

export function indexPolicy(rules: readonly PolicyRule[], limit = 5000): PolicyIndex {
  const compiled = new Map<string, CompiledPolicy>();
  return (d) => {
    const key = `${d.fromAgencyType}|${d.fromRole ?? ''}|${d.toAgencyType}|${d.toRole}|${d.purpose}|${d.subjectRole}`;
    const known = compiled.get(key);
    if (known) return known;
    const candidates = rules.filter(
      (r) =>
        selects(r.from.agencyTypes, d.fromAgencyType) &&
        selects(r.from.roles, d.fromRole) &&
        selects(r.to.agencyTypes, d.toAgencyType) &&
        selects(r.to.roles, d.toRole) &&
        selects(r.purposes, d.purpose) &&
        selects(r.subjectRoles, d.subjectRole),
    );
    const policy = compilePolicy(candidates);
    if (compiled.size >= limit) compiled.delete(compiled.keys().next().value as string);
    compiled.set(key, policy);
    return policy;
  };
}

/** Whether a selector selects a value, as CASL's `$exists` + `$in`/`$nin` conditions do (an absent value: only `any`). */
export function selects(selector: Selector<string>, value: string | undefined): boolean {
  if (selector.kind === 'any') return true;
  if (value === undefined) return false;
  return selector.kind === 'only' ? selector.values.includes(value) : !selector.values.includes(value);
}

type Query = Record<string, Record<string, unknown>>;

/** One mongo query per alternative (`whenAny`), each also holding the rule's parties, purposes and `when`. */
function conditionsOf(rule: PolicyRule): Query[] {
  const base: Query = {};
  addSelector(base, 'fromAgencyType', rule.from.agencyTypes);
  addSelector(base, 'fromRole', rule.from.roles);
  addSelector(base, 'toAgencyType', rule.to.agencyTypes);
  addSelector(base, 'toRole', rule.to.roles);
  addSelector(base, 'purpose', rule.purposes);
  addSelector(base, 'subjectRole', rule.subjectRoles);
  for (const test of rule.when) addFactTest(base, test);
  if (rule.whenAny.length === 0) return [base];
  return rule.whenAny.map((group) => {
    const q: Query = Object.fromEntries(Object.entries(base).map(([k, v]) => [k, { ...v }]));
    for (const test of group) addFactTest(q, test);
    return q;
  });
}

function addSelector(q: Query, path: string, sel: Selector<string>): void {
  if (sel.kind === 'any') return;
  q[path] = { $exists: true, [sel.kind === 'only' ? '$in' : '$nin']: [...sel.values] };
}

const OPERATOR: Record<FactTest['op'], string> = { eq: '$eq', not: '$ne', in: '$in', lte: '$lte', lt: '$lt', gte: '$gte', gt: '$gt' };

function addFactTest(q: Query, test: FactTest): void {
  const path = `facts.${test.fact}`;
  const existing = q[path] ?? { $exists: true };
  existing[OPERATOR[test.op]] = test.op === 'in' ? [...test.values] : test.value;
  q[path] = existing;
}
