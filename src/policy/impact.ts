/**
 * Policy change impact: the same recorded decision inputs decided under two catalogues, and what changes — per
 * outcome, per field and per rule, with examples. What an information governance board needs to see before it
 * approves a change to the catalogue (`npm run policy:impact`, src/cli/policy-impact.ts). Pure: no I/O.
 */
import type { Field } from '../vocabulary/vocabulary';
import type { Decision, DecisionInput, PolicyEngine } from './types';

export interface ReplayInput {
  readonly input: DecisionInput;
  /** The ledger entry it was read from. */
  readonly entryId?: string;
}

type Verdict = 'permitted' | Decision['withheldFields'][number]['code'];

export interface FieldChange {
  readonly field: Field;
  readonly before: Verdict;
  readonly after: Verdict;
}

export interface ImpactExample {
  readonly entryId?: string;
  readonly from: string;
  readonly to: string;
  readonly purpose: string;
  readonly subjectRole: string;
  readonly facts: DecisionInput['facts'];
  readonly before: Decision['decision'];
  readonly after: Decision['decision'];
  readonly fields: readonly FieldChange[];
}

export interface RuleImpact {
  readonly rule: string;
  /** Replayed decisions the rule now contributes to and did not before. */
  readonly gained: number;
  /** Replayed decisions the rule contributed to before and no longer does (or the rule is gone). */
  readonly lost: number;
  readonly fieldsNewlyPermitted: number;
  readonly fieldsNewlyWithheld: number;
  readonly examples: readonly ImpactExample[];
}

export interface ImpactReport {
  readonly baseline: string;
  readonly candidate: string;
  readonly replayed: number;
  /** Inputs either catalogue could not evaluate (e.g. a word one of them does not know). */
  readonly unreadable: number;
  readonly changed: number;
  /** "permit → deny": how many decisions moved between outcomes (unchanged ones under "permit → permit" etc.). */
  readonly outcomes: Readonly<Record<string, number>>;
  readonly fieldsNewlyPermitted: number;
  readonly fieldsNewlyWithheld: number;
  /** Withheld before and after, for a different reason (e.g. no rule → needs a referral). */
  readonly fieldsWithheldDifferently: number;
  readonly rules: readonly RuleImpact[];
}

function verdicts(d: Decision): Map<Field, Verdict> {
  return new Map<Field, Verdict>([
    ...d.permittedFields.map((f) => [f, 'permitted'] as const),
    ...d.withheldFields.map((w) => [w.field, w.code] as const),
  ]);
}

/** The rules that decided each field: the permit rules that granted it, or the deny/refer rule that withheld it. */
function deciders(d: Decision): Map<Field, string[]> {
  const out = new Map<Field, string[]>();
  for (const b of d.lawfulBasis) for (const f of b.fields) out.set(f, [...(out.get(f) ?? []), b.rule]);
  for (const w of d.withheldFields) if (w.rule) out.set(w.field, [w.rule]);
  return out;
}

export function policyImpact(
  inputs: readonly ReplayInput[],
  baseline: PolicyEngine,
  candidate: PolicyEngine,
  maxExamples = 3,
): ImpactReport {
  const outcomes: Record<string, number> = {};
  const rules = new Map<string, { gained: number; lost: number; up: number; down: number; examples: ImpactExample[] }>();
  const ruleOf = (id: string) => {
    let r = rules.get(id);
    if (!r) rules.set(id, (r = { gained: 0, lost: 0, up: 0, down: 0, examples: [] }));
    return r;
  };
  let unreadable = 0;
  let changed = 0;
  let up = 0;
  let down = 0;
  let sideways = 0;
  for (const { input, entryId } of inputs) {
    const before = baseline.decide(input);
    const after = candidate.decide(input);
    if (before.failure || after.failure) {
      unreadable++;
      continue;
    }
    const key = `${before.decision} → ${after.decision}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    const vb = verdicts(before);
    const va = verdicts(after);
    const fields: FieldChange[] = [];
    for (const [field, b] of vb) {
      const a = va.get(field) ?? b;
      if (a !== b) fields.push({ field, before: b, after: a });
    }
    const gainedRules = after.rules.filter((r) => !before.rules.includes(r));
    const lostRules = before.rules.filter((r) => !after.rules.includes(r));
    if (fields.length === 0 && before.decision === after.decision && gainedRules.length === 0 && lostRules.length === 0) continue;
    changed++;
    const example: ImpactExample = {
      ...(entryId ? { entryId } : {}),
      from: input.from.agencyType,
      to: `${input.to.agencyType}/${input.to.role}`,
      purpose: input.purpose,
      subjectRole: input.subjectRole,
      facts: input.facts,
      before: before.decision,
      after: after.decision,
      fields,
    };
    const involved = new Set<string>([...gainedRules, ...lostRules]);
    const byBefore = deciders(before);
    const byAfter = deciders(after);
    for (const c of fields) {
      const isUp = c.after === 'permitted';
      const isDown = c.before === 'permitted';
      if (isUp) up++;
      else if (isDown) down++;
      else sideways++;
      for (const id of [...(byAfter.get(c.field) ?? []), ...(byBefore.get(c.field) ?? [])]) {
        involved.add(id);
        const r = ruleOf(id);
        if (isUp && (byAfter.get(c.field) ?? []).includes(id)) r.up++;
        if (isDown && (byBefore.get(c.field) ?? []).includes(id)) r.down++;
      }
    }
    for (const id of gainedRules) ruleOf(id).gained++;
    for (const id of lostRules) ruleOf(id).lost++;
    for (const id of involved) {
      const r = ruleOf(id);
      if (r.examples.length < maxExamples) r.examples.push(example);
    }
  }
  return {
    baseline: baseline.version,
    candidate: candidate.version,
    replayed: inputs.length,
    unreadable,
    changed,
    outcomes,
    fieldsNewlyPermitted: up,
    fieldsNewlyWithheld: down,
    fieldsWithheldDifferently: sideways,
    rules: [...rules]
      .map(([rule, r]) => ({
        rule,
        gained: r.gained,
        lost: r.lost,
        fieldsNewlyPermitted: r.up,
        fieldsNewlyWithheld: r.down,
        examples: r.examples,
      }))
      .sort(
        (a, b) =>
          b.gained +
            b.lost +
            b.fieldsNewlyPermitted +
            b.fieldsNewlyWithheld -
            (a.gained + a.lost + a.fieldsNewlyPermitted + a.fieldsNewlyWithheld) || a.rule.localeCompare(b.rule),
      ),
  };
}

/** The report in words, for the terminal and for an information governance paper. */
export function describeImpact(report: ImpactReport): string {
  const lines: string[] = [];
  lines.push(`Policy change impact: ${report.baseline} → ${report.candidate}`);
  lines.push(`  Decisions replayed: ${report.replayed} (${report.unreadable} could not be evaluated by one of the catalogues)`);
  lines.push(`  Decisions that change: ${report.changed}`);
  lines.push(
    `  Fields newly shared: ${report.fieldsNewlyPermitted}; newly withheld: ${report.fieldsNewlyWithheld}; withheld for a different reason: ${report.fieldsWithheldDifferently}`,
  );
  lines.push('  Outcomes (before → after):');
  for (const [k, n] of Object.entries(report.outcomes).sort((a, b) => b[1] - a[1]))
    lines.push(`    ${k.padEnd(28)} ${String(n).padStart(6)}`);
  if (report.rules.length) {
    lines.push('  Per rule (decisions it newly / no longer contributes to; fields it newly shares / no longer shares):');
    for (const r of report.rules) {
      lines.push(`    ${r.rule}: +${r.gained} / -${r.lost} decisions; +${r.fieldsNewlyPermitted} / -${r.fieldsNewlyWithheld} fields`);
      for (const e of r.examples) {
        const changes = e.fields.map((f) => `${f.field} ${f.before}→${f.after}`).join(', ') || 'same fields';
        lines.push(
          `      e.g. ${e.from} → ${e.to}, ${e.purpose}, ${e.subjectRole}: ${e.before} → ${e.after} (${changes})${e.entryId ? ` [entry ${e.entryId}]` : ''}`,
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
