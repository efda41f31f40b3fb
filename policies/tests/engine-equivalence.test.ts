/**
 * A second, deliberately naive reading of the shipped rules — plain loops, no CASL — compared with the engine on
 * thousands of seeded pseudo-random requests. It guards the compilation to CASL (conditions, `$exists`, `whenAny`
 * expansion, deny-over-permit-over-refer precedence): any disagreement prints the request that shows it.
 */
import path from 'node:path';
import { loadPolicyCatalogue, type FactTest, type PolicyRule, type Selector } from '../../src/policy';
import { compilePolicy } from '../../src/policy/compile';
import { createEngine } from '../../src/policy/decide';
import type { DecisionInput, WithheldCode } from '../../src/policy/types';
import {
  AGENCY_TYPES,
  CONSENT_VALUES,
  DASH_RISK_LEVELS,
  FACT_SPECS,
  FIELDS,
  PURPOSES,
  ROLES,
  SUBJECT_ROLES,
  type Facts,
  type Field,
} from '../../src/vocabulary/vocabulary';

const engine = loadPolicyCatalogue(path.resolve(__dirname, '..'));
const rules = engine.catalogue.rules;

// ─── The reference reading ─────────────────────────────────────────────────────────────────────────────────────

function selects(sel: Selector<string>, value: string | undefined): boolean {
  if (sel.kind === 'any') return true;
  if (value === undefined) return false;
  return sel.kind === 'only' ? sel.values.includes(value) : !sel.values.includes(value);
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
      return test.values.includes(v as never);
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

function applies(rule: PolicyRule, input: DecisionInput, field: Field): boolean {
  return (
    (rule.fields === 'all' || rule.fields.includes(field)) &&
    selects(rule.from.agencyTypes, input.from.agencyType) &&
    selects(rule.from.roles, input.from.role) &&
    selects(rule.to.agencyTypes, input.to.agencyType) &&
    selects(rule.to.roles, input.to.role) &&
    selects(rule.purposes, input.purpose) &&
    selects(rule.subjectRoles, input.subjectRole) &&
    rule.when.every((t) => holds(t, input.facts)) &&
    (rule.whenAny.length === 0 || rule.whenAny.some((group) => group.every((t) => holds(t, input.facts))))
  );
}

function referenceVerdict(input: DecisionInput, field: Field): WithheldCode | 'permitted' {
  const matching = rules.filter((r) => applies(r, input, field));
  if (matching.some((r) => r.effect === 'deny')) return 'denied_by_rule';
  if (matching.some((r) => r.effect === 'permit')) return 'permitted';
  if (matching.some((r) => r.effect === 'refer')) return 'needs_referral';
  return 'no_rule_permits';
}

// ─── Seeded requests: half shaped like a random rule (so permits and refers are common), half anything ────────

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(random: () => number): DecisionInput {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const from = <T extends string>(sel: Selector<T>, all: readonly T[]): T =>
    sel.kind === 'only' && random() < 0.8 ? pick(sel.values) : pick(all);
  const rule = random() < 0.5 ? pick(rules) : undefined;
  const facts: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(FACT_SPECS)) {
    if (random() < 0.45) continue;
    facts[name] =
      spec.kind === 'boolean'
        ? random() < 0.5
        : spec.kind === 'number'
          ? pick([0, 1, 24, 71, 72, 73, 96, 200])
          : name === 'consent'
            ? pick(CONSENT_VALUES)
            : pick(DASH_RISK_LEVELS);
  }
  const ruleFields = rule && rule.fields !== 'all' ? rule.fields : FIELDS;
  const fields = [...new Set(Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick(random() < 0.7 ? ruleFields : FIELDS)))];
  const fromRole = random() < 0.3 ? pick(ROLES) : undefined;
  return {
    from: { agencyType: rule ? from(rule.from.agencyTypes, AGENCY_TYPES) : pick(AGENCY_TYPES), ...(fromRole ? { role: fromRole } : {}) },
    to: {
      agencyType: rule ? from(rule.to.agencyTypes, AGENCY_TYPES) : pick(AGENCY_TYPES),
      role: rule ? from(rule.to.roles, ROLES) : pick(ROLES),
    },
    purpose: rule ? from(rule.purposes, PURPOSES) : pick(PURPOSES),
    subjectRole: rule ? from(rule.subjectRoles, SUBJECT_ROLES) : pick(SUBJECT_ROLES),
    fields,
    facts: facts,
  };
}

it('the CASL engine and the reference reading agree on every field of 5,000 requests', () => {
  const random = prng(20261123);
  const seen = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    const input = generate(random);
    const d = engine.decide(input);
    expect(d.failure).toBeUndefined();
    const actual = new Map<Field, string>([
      ...d.permittedFields.map((f) => [f, 'permitted'] as const),
      ...d.withheldFields.map((w) => [w.field, w.code] as const),
    ]);
    for (const field of input.fields) {
      const expected = referenceVerdict(input, field);
      seen.set(expected, (seen.get(expected) ?? 0) + 1);
      if (actual.get(field) !== expected) {
        throw new Error(
          `request ${i}, field ${field}: engine says ${String(actual.get(field))}, reference says ${expected}\n${JSON.stringify(input)}`,
        );
      }
    }
  }
  // The generator must actually reach every outcome, or the comparison proves little.
  for (const outcome of ['permitted', 'denied_by_rule', 'needs_referral', 'no_rule_permits']) {
    expect(seen.get(outcome) ?? 0).toBeGreaterThan(50);
  }
});

it('the engine indexed by parties answers word for word as one CASL ability over the whole catalogue', () => {
  // The index (src/policy/compile.ts indexPolicy) only leaves out rules whose parties cannot match; the answers,
  // routes and named rules must be exactly those of the unindexed ability.
  const whole = compilePolicy(rules);
  // A copy of the catalogue: routes are remembered per catalogue object, so each engine finds its own.
  const unindexed = createEngine({ ...engine.catalogue }, () => whole);
  const random = prng(20261201);
  const shapes = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const input = generate(random);
    shapes.add(`${input.from.agencyType}|${input.to.agencyType}|${input.to.role}|${input.purpose}|${input.subjectRole}`);
    expect(engine.decide(input)).toEqual(unindexed.decide(input));
  }
  expect(shapes.size).toBeGreaterThan(250);
});
