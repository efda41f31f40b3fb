/**
 * The decision path — "may these fields about this person be shared by this agency with that one, for this
 * purpose, in these circumstances?" Read top to bottom:
 *
 *   1. `decide` wraps everything: it never throws. An internal fault is a deny with a plain reason (fail closed).
 *   2. `checkInput` re-checks every word and fact value against the vocabulary (the HTTP layer already did; the
 *      engine does not rely on it). Anything outside the vocabulary is a deny that names the problem.
 *   3. No fields asked for → deny: a policy grants fields, never whole records.
 *   4. `judgeField` asks CASL about each field, in this order:
 *        a deny rule matches           → withheld, `denied_by_rule`  (deny overrides every permit and refer)
 *        a permit rule matches         → permitted
 *        a refer rule matches          → withheld, `needs_referral`  (a named person must decide)
 *        nothing matches               → withheld, `no_rule_permits` (default deny)
 *      CASL's yes/no is cross-checked against the rules it reports; a disagreement is treated as a fault.
 *   5. `assemble` turns the per-field verdicts into the answer: the outcome, every contributing rule, one lawful
 *      basis per permit rule that granted a field, what to record, and reasons in plain English — permits too.
 */
import { subject as tagSubject } from '@casl/ability';
import { err, ok, type Result } from '../errors';
import {
  FACT_SPECS,
  isAgencyType,
  isFactName,
  isField,
  isPurpose,
  isRole,
  isSubjectRole,
  type Facts,
  type Field,
  type Role,
} from '../vocabulary/vocabulary';
import {
  DISCLOSURE,
  selects,
  type CompiledPolicy,
  type Disclosure,
  type DisclosureSubject,
  type PolicyAction,
  type PolicyIndex,
} from './compile';
import type { PolicyCatalogue, PolicyRule } from './model';
import { englandToday, isDecisionDate, obligationOf } from './obligation';
import { routesFor } from './routes';
import type {
  AgreementGap,
  Decision,
  DecisionFailureCode,
  DecisionInput,
  LawfulBasis,
  PolicyEngine,
  SharingObligation,
  WithheldField,
} from './types';
import { describeTest, discloserPhrase, fieldList, purposePhrase, recipientPhrase, referralTarget } from './words';

export const EVALUATION_FAILED_REASON =
  'The sharing policy could not be evaluated, so nothing may be shared. Ask your information governance team.';
export const NO_FIELDS_REASON =
  'The request named no fields, so nothing may be shared. Ask for the specific fields you need: policies grant fields, never whole ' +
  'records.';

/** The engine plus what tests and tools need to see: the validated catalogue. */
export interface PolicyCatalogueEngine extends PolicyEngine {
  readonly catalogue: PolicyCatalogue;
}

export function createEngine(catalogue: PolicyCatalogue, compiled: PolicyIndex): PolicyCatalogueEngine {
  const version = catalogue.version;
  return {
    version,
    catalogue,
    decide(input: DecisionInput): Decision {
      try {
        const checked = checkInput(input);
        if (!checked.ok) return refusal(version, 'invalid_input', checked.error, input);
        return evaluate(checked.value, catalogue, compiled);
      } catch {
        return refusal(version, 'policy_evaluation_error', EVALUATION_FAILED_REASON, input);
      }
    },
  };
}

// ─── 2. The request, checked against the vocabulary ────────────────────────────────────────────────────────────

function checkInput(input: unknown): Result<DecisionInput, string> {
  const bad = (what: string): Result<never, string> => err(`The request could not be understood, so nothing may be shared: ${what}.`);
  if (!isObject(input)) return bad('it is not a decision request');
  const { from, to, purpose, subjectRole, fields, facts, on } = input;
  if (!isObject(from) || !isAgencyType(from.agencyType))
    return bad(`from.agencyType ${show(isObject(from) ? from.agencyType : from)} is not a known agency type`);
  if (from.role !== undefined && !isRole(from.role)) return bad(`from.role ${show(from.role)} is not a known role`);
  if (!isObject(to) || !isAgencyType(to.agencyType))
    return bad(`to.agencyType ${show(isObject(to) ? to.agencyType : to)} is not a known agency type`);
  if (!isRole(to.role)) return bad(`to.role ${show(to.role)} is not a known role`);
  if (!isPurpose(purpose)) return bad(`purpose ${show(purpose)} is not a known purpose`);
  if (!isSubjectRole(subjectRole)) return bad(`subjectRole ${show(subjectRole)} is not a known subject role`);
  if (!Array.isArray(fields)) return bad('fields is not a list of fields');
  const unknownAt = fields.findIndex((f: unknown) => !isField(f));
  if (unknownAt >= 0) return bad(`fields[${unknownAt}] ${show(fields[unknownAt])} is not a known field`);
  const checkedFacts = checkFacts(facts);
  if (!checkedFacts.ok) return bad(checkedFacts.error);
  if (on !== undefined && !isDecisionDate(on)) return bad(`the decision date ${show(on)} is not a YYYY-MM-DD date`);
  return ok({
    from: { agencyType: from.agencyType, ...(from.role !== undefined ? { role: from.role } : {}) },
    to: { agencyType: to.agencyType, role: to.role },
    purpose,
    subjectRole,
    fields: fields.filter(isField),
    facts: checkedFacts.value,
    on: on ?? englandToday(),
  });
}

/** Facts: absent means none known. Each must be a vocabulary fact with a value of its kind. */
function checkFacts(facts: unknown): Result<Facts, string> {
  if (facts === undefined) return ok({});
  if (!isObject(facts) || Array.isArray(facts)) return err('facts is not a set of facts');
  const checked: Record<string, boolean | number | string> = {};
  for (const [name, value] of Object.entries(facts)) {
    if (!isFactName(name)) return err(`${show(name)} is not a known fact`);
    const spec = FACT_SPECS[name];
    const fits =
      spec.kind === 'boolean'
        ? typeof value === 'boolean'
        : spec.kind === 'number'
          ? typeof value === 'number' && Number.isFinite(value) && value >= spec.minimum
          : typeof value === 'string' && (spec.values as readonly string[]).includes(value);
    if (!fits) return err(`fact ${name} has the value ${show(value)}, which it cannot take`);
    checked[name] = value as boolean | number | string;
  }
  return ok(checked as Facts);
}

// ─── 3 and 4. Each field, judged ───────────────────────────────────────────────────────────────────────────────

type Verdict =
  | { readonly field: Field; readonly kind: 'permitted'; readonly rules: readonly PolicyRule[] }
  | { readonly field: Field; readonly kind: 'denied'; readonly rules: readonly PolicyRule[] }
  | { readonly field: Field; readonly kind: 'referred'; readonly rules: readonly PolicyRule[] }
  | { readonly field: Field; readonly kind: 'unmatched' };

function evaluate(request: DecisionInput, catalogue: PolicyCatalogue, index: PolicyIndex): Decision {
  const fields = [...new Set(request.fields)];
  if (fields.length === 0) {
    return { ...emptyDecision(catalogue.version), reasons: [NO_FIELDS_REASON] };
  }
  const disclosure = disclosureOf(request);
  const compiled = index(disclosure);
  // A rule's conditions read the disclosure, never the field: each is evaluated once per request, not once per field.
  const holds = new Map<object, boolean>();
  const verdicts = fields.map((field) => judgeField(field, disclosure, compiled, holds));
  const recheck = (hypothetical: DecisionInput, field: Field): readonly PolicyRule[] | undefined => {
    const other = disclosureOf(hypothetical);
    const v = judgeField(field, other, index(other), new Map());
    return v.kind === 'permitted' ? v.rules : undefined;
  };
  return assemble(request, verdicts, catalogue, compiled.rules, recheck);
}

function disclosureOf(request: DecisionInput): DisclosureSubject {
  return tagSubject(DISCLOSURE, {
    fromAgencyType: request.from.agencyType,
    ...(request.from.role !== undefined ? { fromRole: request.from.role } : {}),
    toAgencyType: request.to.agencyType,
    toRole: request.to.role,
    purpose: request.purpose,
    subjectRole: request.subjectRole,
    facts: { ...request.facts },
  } satisfies Disclosure);
}

function judgeField(field: Field, disclosure: DisclosureSubject, compiled: CompiledPolicy, holds: Map<object, boolean>): Verdict {
  const { ability } = compiled;
  /** Whether a CASL rule's conditions hold for `disclosure` (remembered in `holds`, which belongs to this disclosure). */
  const conditionsHold = (caslRule: { matchesConditions(subject: DisclosureSubject): boolean }): boolean => {
    let held = holds.get(caslRule);
    if (held === undefined) {
      held = caslRule.matchesConditions(disclosure);
      holds.set(caslRule, held);
    }
    return held;
  };
  /**
   * The catalogue rules CASL finds for this action and field whose conditions hold, highest precedence first, split
   * into permits and denies, and CASL's own answer: `ability.can` is "the relevant rule — the first of `rulesFor`
   * whose conditions hold — exists and is not inverted" (CASL's relevantRuleFor), worked out here on the same
   * list with each rule's conditions evaluated once (`conditionsHold`), not again by `can`.
   */
  const matching = (action: PolicyAction): { permits: PolicyRule[]; denies: PolicyRule[]; can: boolean } => {
    const permits: PolicyRule[] = [];
    const denies: PolicyRule[] = [];
    let relevant: { readonly inverted: boolean } | undefined;
    for (const caslRule of ability.rulesFor(action, DISCLOSURE, field)) {
      if (!conditionsHold(caslRule)) continue;
      relevant ??= caslRule;
      const rule = compiled.ruleOf(caslRule.origin);
      if (!rule) throw new Error(`CASL rule without a catalogue rule (${action} ${field})`);
      const found = caslRule.inverted ? denies : permits;
      if (!found.includes(rule)) found.push(rule);
    }
    return { permits, denies, can: relevant !== undefined && !relevant.inverted };
  };

  const disclose = matching('disclose');
  // CASL's precedence and "any deny wins" must agree (src/policy/compile.ts orders the rules so): else fail closed.
  if (disclose.can !== (disclose.denies.length === 0 && disclose.permits.length > 0)) {
    throw new Error(`CASL and the matched rules disagree about disclosing ${field}`);
  }
  if (disclose.denies.length > 0) return { field, kind: 'denied', rules: disclose.denies };
  if (disclose.can) return { field, kind: 'permitted', rules: disclose.permits };

  const refer = matching('refer');
  const refers = refer.permits;
  const mayRefer = refer.can;
  if (mayRefer !== (refer.denies.length === 0 && refers.length > 0))
    throw new Error(`CASL and the matched rules disagree about referring ${field}`);
  if (mayRefer) return { field, kind: 'referred', rules: refers };
  return { field, kind: 'unmatched' };
}

/**
 * When several people could decide, the one whose decision covers the most: the Caldicott Guardian (confidential
 * health information), then the data protection officer, then a team manager. One answer names one decider.
 */
const DECIDERS: readonly Role[] = ['caldicott_guardian', 'data_protection_officer', 'team_manager'];
function deciderRank(role: Role | undefined): number {
  const i = role === undefined ? -1 : DECIDERS.indexOf(role);
  return i < 0 ? DECIDERS.length : i;
}

// ─── 5. The answer ─────────────────────────────────────────────────────────────────────────────────────────────

type Recheck = Parameters<typeof routesFor>[3];

/**
 * Routes are a pure function of the catalogue and the request (everything but the fields asked for) and the field;
 * finding them decides the request again once per candidate rule, the largest cost of a decision with withheld
 * fields. So they are remembered per catalogue, for the most recent 2,000 request shapes (oldest forgotten first).
 */
const ROUTE_CACHE_SIZE = 2000;
const routeCaches = new WeakMap<PolicyCatalogue, Map<string, WithheldField['routes']>>();
function cachedRoutes(
  catalogue: PolicyCatalogue,
  request: DecisionInput,
  shape: string,
  field: Field,
  recheck: Recheck,
): WithheldField['routes'] {
  let cache = routeCaches.get(catalogue);
  if (!cache) routeCaches.set(catalogue, (cache = new Map<string, WithheldField['routes']>()));
  const key = `${shape}|${field}`;
  const known = cache.get(key);
  if (known) return known;
  const found = routesFor(request, field, catalogue.rules, recheck);
  if (cache.size >= ROUTE_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(key, found);
  return found;
}

function assemble(
  request: DecisionInput,
  verdicts: readonly Verdict[],
  catalogue: PolicyCatalogue,
  candidates: readonly PolicyRule[],
  recheck: Recheck,
): Decision {
  const on = request.on ?? englandToday();
  // The request's shape (all but the fields asked for), worked out once for all its withheld fields.
  let shape: string | undefined;
  const routes = (field: Field): WithheldField['routes'] =>
    cachedRoutes(catalogue, request, (shape ??= JSON.stringify({ ...request, fields: undefined, on })), field, recheck);
  const discloser = discloserPhrase(request.from.agencyType);
  const recipient = recipientPhrase(request.to.agencyType, request.to.role);
  const purpose = purposePhrase(request.purpose);
  const noRule = (fields: readonly Field[]): string =>
    `No sharing rule allows ${discloser} to share ${fieldList(fields)} with ${recipient} for ${purpose}.`;

  const permittedFields: Field[] = [];
  const withheldFields: WithheldField[] = [];
  /** For each contributing rule, the fields it decided (the top rule of a field is the one named for it). */
  const decided = new Map<PolicyRule, Field[]>();
  const contribute = (rule: PolicyRule, field: Field): void => {
    decided.set(rule, [...(decided.get(rule) ?? []), field]);
  };
  let referTo: Role | undefined;

  for (const v of verdicts) {
    switch (v.kind) {
      case 'permitted':
        permittedFields.push(v.field);
        v.rules.forEach((r) => contribute(r, v.field));
        break;
      case 'denied': {
        const top = v.rules[0] as PolicyRule;
        withheldFields.push({
          field: v.field,
          code: 'denied_by_rule',
          reason: top.reason ?? top.title,
          rule: top.id,
          routes: routes(v.field),
        });
        v.rules.forEach((r) => contribute(r, v.field));
        break;
      }
      case 'referred': {
        const top = [...v.rules].sort((a, b) => deciderRank(a.referTo) - deciderRank(b.referTo))[0] as PolicyRule;
        const who = top.referTo as Role;
        if (referTo === undefined || deciderRank(who) < deciderRank(referTo)) referTo = who;
        withheldFields.push({
          field: v.field,
          code: 'needs_referral',
          reason: `${capitalise(referralTarget(who))} must decide first. ${top.reason ?? ''}`.trim(),
          rule: top.id,
          referTo: who,
          routes: routes(v.field),
        });
        v.rules.forEach((r) => contribute(r, v.field));
        break;
      }
      case 'unmatched':
        withheldFields.push({ field: v.field, code: 'no_rule_permits', reason: noRule([v.field]), routes: routes(v.field) });
        break;
    }
  }

  // Contributing rules: what may be shared first, then what is withheld and why; catalogue order within each
  // effect, so the same request always gets the same answer, word for word.
  const effectOrder = { permit: 0, deny: 1, refer: 2 } as const;
  const contributing = catalogue.rules.filter((r) => decided.has(r)).sort((a, b) => effectOrder[a.effect] - effectOrder[b.effect]);
  const reasons: string[] = [];
  const lawfulBasis: LawfulBasis[] = [];
  const obligations = new Map<PolicyRule, SharingObligation>();
  const agreementGaps: AgreementGap[] = [];
  for (const rule of contributing) {
    const fields = decided.get(rule) ?? [];
    switch (rule.effect) {
      case 'permit': {
        const obligation = obligationOf(rule, request.from.agencyType, on);
        obligations.set(rule, obligation);
        const verb = obligation.kind === 'duty' ? 'must' : 'may';
        reasons.push(
          `${rule.title}: ${discloser} ${verb} share ${fieldList(fields)} with ${recipient} for ${purpose}.${rule.reason ? ` ${rule.reason}` : ''} ${obligation.explanation}`,
        );
        if (rule.lawfulBasis) lawfulBasis.push({ rule: rule.id, ...rule.lawfulBasis, fields, sharing: obligation });
        if (rule.agreement !== undefined && request.facts.agreement_in_force === false) {
          agreementGaps.push({
            rule: rule.id,
            agreement: rule.agreement,
            notify: 'information_governance',
            explanation: `The data sharing agreement "${rule.agreement}" is not in force for these agencies. Sharing goes ahead because the law allows it (an agreement is good practice, not the legal basis), but the gap must be reported to information governance so the agreement is put right.`,
          });
        }
        break;
      }
      case 'deny':
        reasons.push(`${rule.title}: ${fieldList(fields)} ${fields.length === 1 ? 'is' : 'are'} withheld. ${rule.reason ?? ''}`.trim());
        break;
      case 'refer':
        reasons.push(
          `${rule.title}: ${fieldList(fields)} need${fields.length === 1 ? 's' : ''} a decision by ${referralTarget(rule.referTo as Role)} before ${fields.length === 1 ? 'it' : 'they'} can be shared. ${rule.reason ?? ''}`.trim(),
        );
        break;
    }
  }
  const unmatched = verdicts.filter((v) => v.kind === 'unmatched').map((v) => v.field);
  if (unmatched.length > 0) reasons.push(noRule(unmatched), ...nearMisses(request, unmatched, candidates));
  for (const gap of agreementGaps) reasons.push(gap.explanation);

  // Duty only when every permitted field is granted by at least one rule whose duty binds this discloser today.
  const dutyFor = (field: Field): boolean =>
    verdicts.some((v) => v.field === field && v.kind === 'permitted' && v.rules.some((r) => obligations.get(r)?.kind === 'duty'));
  const sharing = permittedFields.length === 0 ? undefined : permittedFields.every(dutyFor) ? ('duty' as const) : ('power' as const);
  const gapRecord =
    agreementGaps.length > 0 ? ['that the data sharing agreement was not in force, and that information governance has been told'] : [];

  const referred = withheldFields.some((w) => w.code === 'needs_referral');
  const decision =
    permittedFields.length === verdicts.length ? 'permit' : permittedFields.length > 0 ? 'permit_partial' : referred ? 'refer' : 'deny';

  return {
    decision,
    permittedFields,
    withheldFields,
    rules: contributing.map((r) => r.id),
    lawfulBasis,
    reasons,
    mustRecord: [...new Set([...contributing.flatMap((r) => r.mustRecord), ...gapRecord])],
    ...(referTo !== undefined ? { referTo } : {}),
    ...(sharing !== undefined ? { sharing } : {}),
    agreementGaps,
    policyVersion: catalogue.version,
  };
}

/**
 * For fields no rule allowed: the permit rules that would have allowed them for these agencies, roles, purpose
 * and subject, but whose conditions on the facts did not hold — so the practitioner learns what is missing.
 * `candidates` are the index's candidates for these parties (catalogue order), so few rules are looked at; the
 * parties are still checked, so any superset of them (e.g. the whole catalogue) gives the same answer. (Explanation
 * only: the decision above is CASL's.)
 */
function nearMisses(request: DecisionInput, fields: readonly Field[], candidates: readonly PolicyRule[]): string[] {
  const out: string[] = [];
  for (const rule of candidates) {
    if (rule.effect !== 'permit' || rule.fields === 'all') continue;
    const grantable = fields.filter((f) => (rule.fields as readonly Field[]).includes(f));
    if (grantable.length === 0) continue;
    const fits =
      selects(rule.from.agencyTypes, request.from.agencyType) &&
      selects(rule.from.roles, request.from.role) &&
      selects(rule.to.agencyTypes, request.to.agencyType) &&
      selects(rule.to.roles, request.to.role) &&
      selects(rule.purposes, request.purpose) &&
      selects(rule.subjectRoles, request.subjectRole);
    if (!fits) continue;
    const all = rule.when.map(describeTest);
    const any = rule.whenAny.map((group) => group.map(describeTest).join(' and '));
    const conditions = [...all, ...(any.length ? [`one of: ${any.join('; or ')}`] : [])];
    out.push(
      `"${rule.title}" (${rule.id}) would allow ${fieldList(grantable)} only when ${conditions.join(', and ')}. Check the facts given.`,
    );
  }
  return out;
}

// ─── Refusals that never reach the rules ───────────────────────────────────────────────────────────────────────

function emptyDecision(policyVersion: string): Decision {
  return {
    decision: 'deny',
    permittedFields: [],
    withheldFields: [],
    rules: [],
    lawfulBasis: [],
    reasons: [],
    mustRecord: [],
    agreementGaps: [],
    policyVersion,
  };
}

/** A deny for a request that could not be evaluated. Builds only from constants and checked words: cannot throw. */
function refusal(policyVersion: string, code: DecisionFailureCode, reason: string, input: unknown): Decision {
  const withheldFields: WithheldField[] = [];
  try {
    const fields: unknown = isObject(input) ? input.fields : undefined;
    if (Array.isArray(fields)) {
      for (const f of new Set<unknown>(fields))
        if (isField(f)) withheldFields.push({ field: f, code: 'no_rule_permits', reason, routes: [] });
    }
  } catch {
    withheldFields.length = 0;
  }
  return { ...emptyDecision(policyVersion), withheldFields, reasons: [reason], failure: { code } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A caller's value quoted for a message, never long. */
function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = typeof value;
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
