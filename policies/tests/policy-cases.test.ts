/**
 * Policy cases: every `cases/*.yaml` case is run through the real catalogue in `policies/`, then a coverage check
 * fails if any shipped rule is exercised by no case (a case exercises a rule when the rule appears in its
 * decision's `rules`). The coverage report (rule → number of cases) is printed on every run.
 *
 * A case file:
 *   cases:
 *     - name: plain-English description of the situation
 *       input: { from, to, purpose, subjectRole, fields, facts }        # a DecisionInput
 *       expect:
 *         decision: permit | permit_partial | deny | refer
 *         permittedFields: [...]                 # exactly these (default: none)
 *         withheld: { field: code, ... }         # exactly these (default: none)
 *         rules: [...]                           # exactly these rule ids contributed
 *         referTo: role                          # exactly (default: absent)
 *         reasonsMention: ["text", ...]          # each appears in some reason (optional)
 *         sharing: duty | power                  # exactly (optional; absent when nothing is permitted)
 *         routes: { field: [rule ids] }          # the routes offered for each listed withheld field, in order (optional)
 *         agreementGaps: [rule ids]              # exactly these permits went ahead without their agreement (default: none)
 *
 * Every case is also checked against the invariants of a decision (below), including that every route offered
 * really is lawful: decided again with the route's changes, the field is permitted by the route's rule.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadPolicyCatalogue } from '../../src/policy';
import type { Decision, DecisionInput, SharingRoute, WithheldCode } from '../../src/policy/types';
import type { AgencyType, DecisionOutcome, Field, Role } from '../../src/vocabulary/vocabulary';

interface CaseExpectation {
  readonly decision: DecisionOutcome;
  readonly permittedFields?: readonly Field[];
  readonly withheld?: Readonly<Partial<Record<Field, WithheldCode>>>;
  readonly rules: readonly string[];
  readonly referTo?: Role;
  readonly reasonsMention?: readonly string[];
  readonly sharing?: 'duty' | 'power';
  readonly routes?: Readonly<Partial<Record<Field, readonly string[]>>>;
  readonly agreementGaps?: readonly string[];
}
interface PolicyCase {
  readonly name: string;
  readonly input: DecisionInput;
  readonly expect: CaseExpectation;
}
interface LoadedCase extends PolicyCase {
  readonly file: string;
}

const POLICY_DIR = path.resolve(__dirname, '..');
const CASES_DIR = path.join(__dirname, 'cases');
const CASE_KEYS = ['name', 'input', 'expect'];
const EXPECT_KEYS = ['decision', 'permittedFields', 'withheld', 'rules', 'referTo', 'reasonsMention', 'sharing', 'routes', 'agreementGaps'];

function loadCases(): LoadedCase[] {
  const out: LoadedCase[] = [];
  for (const file of readdirSync(CASES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const doc = parse(readFileSync(path.join(CASES_DIR, file), 'utf8'), { uniqueKeys: true }) as { cases?: unknown };
    if (!Array.isArray(doc.cases)) throw new Error(`${file}: expected a top-level "cases" list`);
    for (const [i, c] of (doc.cases as Record<string, unknown>[]).entries()) {
      // A misspelt key would silently weaken a case: refuse it.
      const stray = [
        ...Object.keys(c).filter((k) => !CASE_KEYS.includes(k)),
        ...Object.keys(c.expect ?? {})
          .filter((k) => !EXPECT_KEYS.includes(k))
          .map((k) => `expect.${k}`),
      ];
      if (stray.length || typeof c.name !== 'string' || !c.input || !c.expect) {
        throw new Error(`${file} case ${i}: needs name, input, expect (unknown keys: ${stray.join(', ') || 'none'})`);
      }
      out.push({ ...(c as unknown as PolicyCase), file });
    }
  }
  return out;
}

const engine = loadPolicyCatalogue(POLICY_DIR);
const cases = loadCases();

const sorted = <T extends string>(xs: readonly T[] | undefined): T[] => [...(xs ?? [])].sort();

describe.each([...new Set(cases.map((c) => c.file))])('%s', (file) => {
  it.each(cases.filter((c) => c.file === file).map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const d = engine.decide(c.input);

    expect(d.decision).toBe(c.expect.decision);
    expect(sorted(d.permittedFields)).toEqual(sorted(c.expect.permittedFields));
    expect(Object.fromEntries(d.withheldFields.map((w) => [w.field, w.code]))).toEqual(c.expect.withheld ?? {});
    expect(sorted(d.rules)).toEqual(sorted(c.expect.rules));
    expect(d.referTo).toBe(c.expect.referTo);
    for (const text of c.expect.reasonsMention ?? []) {
      expect(d.reasons.join('\n')).toContain(text);
    }
    if (c.expect.sharing !== undefined) expect(d.sharing).toBe(c.expect.sharing);
    for (const [field, ids] of Object.entries(c.expect.routes ?? {})) {
      expect(d.withheldFields.find((w) => w.field === field)?.routes.map((r) => r.rule)).toEqual(ids);
    }
    expect(d.agreementGaps.map((g) => g.rule).sort()).toEqual(sorted(c.expect.agreementGaps));
    expectInvariants(d, c.input);
  });
});

/** What every decision must satisfy, whatever the case (DEVELOPERS.md invariants 2-4). */
function expectInvariants(d: Decision, input: DecisionInput): void {
  expect(d.policyVersion).toBe(engine.version);
  expect(d.failure).toBeUndefined();
  // Every requested field is accounted for exactly once.
  expect(sorted([...d.permittedFields, ...d.withheldFields.map((w) => w.field)])).toEqual(sorted([...new Set(input.fields)]));
  // Every withheld field says why in words; deny and refer name their rule.
  for (const w of d.withheldFields) {
    expect(w.reason.length).toBeGreaterThan(20);
    if (w.code !== 'no_rule_permits') expect(d.rules).toContain(w.rule);
  }
  // Every permit names a rule and its lawful basis.
  if (d.permittedFields.length > 0) {
    expect(d.lawfulBasis.length).toBeGreaterThan(0);
    for (const b of d.lawfulBasis) {
      expect(d.rules).toContain(b.rule);
      expect(b.statute).not.toHaveLength(0);
      expect(b.ukGdprArticle6).toMatch(/Article 6\(1\)/);
    }
  } else {
    expect(d.lawfulBasis).toEqual([]);
  }
  expect(d.reasons.length).toBeGreaterThan(0);
  if (d.decision === 'refer') expect(d.referTo).toBeDefined();
  // Every permit says duty or power, citing a provision.
  if (d.permittedFields.length > 0) expect(['duty', 'power']).toContain(d.sharing);
  for (const b of d.lawfulBasis) {
    expect(['duty', 'power']).toContain(b.sharing.kind);
    expect(b.sharing.provision.length).toBeGreaterThan(5);
  }
  for (const w of d.withheldFields) {
    if (w.code === 'needs_referral') expect(w.referTo).toBeDefined();
    for (const route of w.routes) expectLawfulRoute(input, w.field, route);
  }
}

/** A route, applied, must really let the field be shared under the route's rule: never a route a deny rule forbids. */
function expectLawfulRoute(input: DecisionInput, field: Field, route: SharingRoute): void {
  const rule = engine.catalogue.rules.find((r) => r.id === route.rule);
  expect(rule?.effect).toBe('permit');
  expect(route.changes.length).toBeGreaterThan(0);
  expect(route.explanation.length).toBeGreaterThan(20);
  // Who asks and when are never something a route changes.
  for (const fixed of [
    'requester_is_alleged_perpetrator',
    'requester_acts_for_alleged_perpetrator',
    'requester_is_subject',
    'hours_since_incident',
    'before_next_school_day_start',
  ]) {
    expect(route.facts).not.toHaveProperty(fixed);
  }
  const to = route.recipient
    ? { agencyType: route.recipient.agencyTypes[0] as AgencyType, role: (route.recipient.roles?.[0] ?? input.to.role) as Role }
    : input.to;
  if (route.recipient && !route.recipient.agencyTypes.includes(input.to.agencyType)) expect(to.agencyType).not.toBe('member_of_public');
  const again = engine.decide({
    ...input,
    to,
    purpose: route.purposes?.[0] ?? input.purpose,
    fields: [field],
    facts: { ...input.facts, ...route.facts } as DecisionInput['facts'],
  });
  expect(again.permittedFields).toEqual([field]);
  expect(again.rules).toContain(route.rule);
}

describe('rule coverage', () => {
  it('every shipped rule is exercised by at least one case', () => {
    const counts = new Map<string, number>(engine.catalogue.rules.map((r) => [r.id, 0]));
    for (const c of cases) {
      for (const id of engine.decide(c.input).rules) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const width = Math.max(...[...counts.keys()].map((k) => k.length));
    const report = engine.catalogue.rules
      .map((r) => `  ${r.id.padEnd(width)}  ${r.effect.padEnd(6)}  ${String(counts.get(r.id) ?? 0).padStart(3)} case(s)  (${r.file})`)
      .join('\n');

    console.log(`Policy rule coverage — ${cases.length} cases, ${counts.size} rules, catalogue ${engine.version}\n${report}`);

    const unexercised = [...counts].filter(([, n]) => n === 0).map(([id]) => id);
    if (unexercised.length > 0) {
      throw new Error(`No policy case exercises these rules (add a case to policies/tests/cases/): ${unexercised.join(', ')}`);
    }
  });
});
