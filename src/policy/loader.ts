/**
 * Loading the policy catalogue: read `catalogue.yaml` and every other `*.yaml` in the directory, parse, validate
 * against the schema built from the vocabulary (`schema.ts`), cross-check what a schema cannot express, and turn
 * each rule into a `PolicyRule`. The first problem found stops loading with a `PolicyLoadError` naming the file,
 * the rule and the problem: a gateway with a policy it cannot fully understand must not start.
 *
 * The catalogue's version is `catalogue.yaml`'s `version` + "+" + the first 12 hex digits of a SHA-256 over the
 * sorted file names and their exact contents, so any edit to any policy file changes the version recorded in the
 * audit ledger.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  FACT_NAMES,
  FACT_SPECS,
  isFactName,
  type AgencyType,
  type FactName,
  type FactSpec,
  type Field,
  type Role,
} from '../vocabulary/vocabulary';
import { PolicyLoadError } from './errors';
import {
  COMPARISONS,
  type Effect,
  type FactScalar,
  type FactTest,
  type PartySelector,
  type PolicyCatalogue,
  type PolicyRule,
  type RuleDuty,
  type RuleLawfulBasis,
  type RuleSharing,
  type Selector,
} from './model';
import { firstSchemaProblem, validateCatalogueFile, validateRuleFile } from './schema';

export const CATALOGUE_FILE = 'catalogue.yaml';

/** The shapes the schema guarantees (the schema is the check; these types only describe its result). */
type RawSelector = readonly string[] | 'any' | { readonly except: readonly string[] };
type RawCondition =
  | FactScalar
  | {
      readonly in?: readonly FactScalar[];
      readonly not?: FactScalar;
      readonly lte?: number;
      readonly lt?: number;
      readonly gte?: number;
      readonly gt?: number;
    };
interface RawRule {
  readonly id: string;
  readonly title: string;
  readonly effect: Effect;
  readonly from: { readonly agencyTypes: RawSelector; readonly roles?: RawSelector };
  readonly to: { readonly agencyTypes: RawSelector; readonly roles?: RawSelector };
  readonly purposes: RawSelector;
  readonly subjectRoles: RawSelector;
  readonly fields: readonly string[] | 'all';
  readonly when?: Readonly<Record<string, RawCondition>>;
  readonly whenAny?: readonly Readonly<Record<string, RawCondition>>[];
  readonly lawfulBasis?: RuleLawfulBasis;
  readonly sharing?: {
    readonly power: string;
    readonly duties?: readonly { readonly provision: string; readonly disclosers?: readonly string[]; readonly inForceFrom: string }[];
  };
  readonly mustRecord?: readonly string[];
  readonly reason?: string;
  readonly referTo?: string;
  readonly agreement?: string;
}
interface RawRuleFile {
  readonly description?: string;
  readonly rules: readonly RawRule[];
}
interface RawCatalogueFile {
  readonly version: string;
  readonly title?: string;
}

export interface LoadOptions {
  /**
   * Accept permit rules that do not yet say whether sharing is a duty or a power (catalogues written before
   * `sharing` existed): only for replaying an older catalogue (`npm run policy:impact`), never for serving.
   */
  readonly allowMissingSharing?: boolean;
}

export function loadCatalogue(dir: string, options: LoadOptions = {}): PolicyCatalogue {
  const names = listYamlFiles(dir);
  if (!names.includes(CATALOGUE_FILE)) {
    throw new PolicyLoadError(path.join(dir, CATALOGUE_FILE), undefined, 'is missing (it holds the catalogue version)');
  }
  const ruleFiles = names.filter((n) => n !== CATALOGUE_FILE);
  if (ruleFiles.length === 0) throw new PolicyLoadError(dir, undefined, 'holds no rule files (*.yaml besides catalogue.yaml)');

  const contents = new Map(names.map((n) => [n, readFileSync(path.join(dir, n), 'utf8')] as const));
  const hash = createHash('sha256');
  for (const n of names) hash.update(`${n}\0${contents.get(n) ?? ''}\0`);

  const catalogueText = contents.get(CATALOGUE_FILE) ?? '';
  const catalogue = parseFile(path.join(dir, CATALOGUE_FILE), catalogueText);
  if (!validateCatalogueFile(catalogue)) {
    const { problem } = firstSchemaProblem(validateCatalogueFile.errors ?? [], catalogue);
    throw new PolicyLoadError(path.join(dir, CATALOGUE_FILE), undefined, problem);
  }
  const meta = catalogue as RawCatalogueFile;

  const rules: PolicyRule[] = [];
  const seen = new Map<string, string>();
  for (const name of ruleFiles) {
    const display = path.join(dir, name);
    const data = parseFile(display, contents.get(name) ?? '');
    if (!validateRuleFile(data)) {
      const { ruleIndex, problem } = firstSchemaProblem(validateRuleFile.errors ?? [], data);
      throw new PolicyLoadError(display, ruleIndex === undefined ? undefined : ruleLabel(data, ruleIndex), problem);
    }
    (data as RawRuleFile).rules.forEach((raw) => {
      const fail = (problem: string): never => {
        throw new PolicyLoadError(display, raw.id, problem);
      };
      const earlier = seen.get(raw.id);
      if (earlier !== undefined) fail(`id is already used by a rule in ${earlier} (ids must be unique across the catalogue)`);
      seen.set(raw.id, display);
      rules.push(toPolicyRule(raw, name, fail, options));
    });
  }

  return {
    version: `${meta.version}+${hash.digest('hex').slice(0, 12)}`,
    catalogueVersion: meta.version,
    ...(meta.title !== undefined ? { title: meta.title } : {}),
    files: ruleFiles,
    rules,
  };
}

function listYamlFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    throw new PolicyLoadError(dir, undefined, 'is not a readable policy directory');
  }
  return entries.filter((n) => /\.ya?ml$/.test(n) && statSync(path.join(dir, n)).isFile()).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function parseFile(display: string, text: string): unknown {
  try {
    return parseYaml(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  } catch (e) {
    const detail = e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e);
    throw new PolicyLoadError(display, undefined, `is not valid YAML: ${detail}`);
  }
}

function ruleLabel(data: unknown, index: number): string {
  const rules = (data as { rules?: unknown }).rules;
  const rule: unknown = Array.isArray(rules) ? rules[index] : undefined;
  const id = rule !== null && typeof rule === 'object' ? (rule as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id.length > 0 ? id : `rules[${index}]`;
}

/** Cross-checks, then the rule as the engine holds it. `fail` throws a PolicyLoadError naming this rule. */
function toPolicyRule(raw: RawRule, file: string, fail: (problem: string) => never, options: LoadOptions): PolicyRule {
  switch (raw.effect) {
    case 'permit':
      if (!raw.lawfulBasis)
        fail(
          'a permit rule must cite its lawfulBasis (statute, ukGdprArticle6, and Article 9 / DPA 2018 Schedule 1 conditions where they ' +
            'apply)',
        );
      if (raw.fields === 'all') fail('fields: all is only for deny and refer rules; a permit rule must list the fields it grants');
      if (raw.referTo !== undefined) fail('referTo belongs on refer rules only');
      if (!raw.sharing && options.allowMissingSharing !== true)
        fail('a permit rule must say whether sharing is a duty or a power (sharing: {power, duties})');
      break;
    case 'deny':
      if (!raw.reason) fail('a deny rule must give a reason (it is shown to practitioners)');
      if (raw.referTo !== undefined) fail('referTo belongs on refer rules only');
      if (raw.lawfulBasis) fail('lawfulBasis belongs on permit rules only (explain a deny in its reason)');
      break;
    case 'refer':
      if (!raw.referTo) fail('a refer rule must say who decides (referTo: a role, e.g. team_manager)');
      if (!raw.reason) fail('a refer rule must give a reason (it is shown to practitioners)');
      if (raw.lawfulBasis) fail('lawfulBasis belongs on permit rules only');
      break;
  }

  if (raw.effect !== 'permit' && raw.sharing) fail('sharing (duty or power) belongs on permit rules only');
  const sharing = raw.sharing ? toSharing(raw.sharing, raw, fail) : undefined;

  const when = raw.when ? factTests(raw.when, 'when', fail) : [];
  const whenAny = (raw.whenAny ?? []).map((group, i) => factTests(group, `whenAny[${i}]`, fail));
  const inWhen = new Set(when.map((t) => t.fact));
  for (const [i, group] of whenAny.entries()) {
    for (const t of group) if (inWhen.has(t.fact)) fail(`whenAny[${i}].${t.fact} is already tested in when (test each fact in one place)`);
  }

  return {
    id: raw.id,
    title: raw.title,
    effect: raw.effect,
    file,
    from: party(raw.from),
    to: party(raw.to),
    purposes: selector(raw.purposes),
    subjectRoles: selector(raw.subjectRoles),
    fields: raw.fields === 'all' ? 'all' : (raw.fields as readonly Field[]),
    when,
    whenAny,
    ...(raw.lawfulBasis ? { lawfulBasis: raw.lawfulBasis } : {}),
    ...(sharing ? { sharing } : {}),
    mustRecord: raw.mustRecord ?? [],
    ...(raw.reason !== undefined ? { reason: raw.reason } : {}),
    ...(raw.referTo !== undefined ? { referTo: raw.referTo as Role } : {}),
    ...(raw.agreement !== undefined ? { agreement: raw.agreement } : {}),
  };
}

/** Duties: a real calendar date or `not_yet_commenced`; disclosers must be agencies the rule lets disclose. */
function toSharing(raw: NonNullable<RawRule['sharing']>, rule: RawRule, fail: (problem: string) => never): RuleSharing {
  const from = selector<AgencyType>(rule.from.agencyTypes);
  const duties: RuleDuty[] = (raw.duties ?? []).map((d, i) => {
    if (d.inForceFrom !== 'not_yet_commenced' && Number.isNaN(Date.parse(`${d.inForceFrom}T00:00:00Z`))) {
      fail(`sharing.duties[${i}].inForceFrom "${d.inForceFrom}" is not a real date`);
    }
    for (const a of d.disclosers ?? []) {
      const covered =
        from.kind === 'any' || (from.kind === 'only' ? from.values.includes(a as AgencyType) : !from.values.includes(a as AgencyType));
      if (!covered) fail(`sharing.duties[${i}].disclosers names ${a}, which this rule does not let disclose`);
    }
    return {
      provision: d.provision,
      ...(d.disclosers ? { disclosers: d.disclosers as readonly AgencyType[] } : {}),
      ...(d.inForceFrom !== 'not_yet_commenced' ? { inForceFrom: d.inForceFrom } : {}),
    };
  });
  return { power: raw.power, duties };
}

function selector<T extends string>(raw: RawSelector): Selector<T> {
  if (raw === 'any') return { kind: 'any' };
  if (Array.isArray(raw)) return { kind: 'only', values: raw as readonly T[] };
  return { kind: 'except', values: (raw as { readonly except: readonly string[] }).except as readonly T[] };
}

function party(raw: RawRule['from']): PartySelector {
  return { agencyTypes: selector(raw.agencyTypes), roles: raw.roles === undefined ? { kind: 'any' } : selector(raw.roles) };
}

/** `{ hours_since_incident: {lte: 72}, child_present_at_incident: true }` → tests, each checked against its fact's kind. */
function factTests(conditions: Readonly<Record<string, RawCondition>>, where: string, fail: (p: string) => never): FactTest[] {
  const tests: FactTest[] = [];
  for (const [fact, condition] of Object.entries(conditions)) {
    if (!isFactName(fact)) fail(`${where}: "${fact}" is not a fact (allowed: ${FACT_NAMES.join(', ')})`);
    const name = fact as FactName;
    const spec: FactSpec = FACT_SPECS[name];
    const at = `${where}.${name}`;
    const check = (value: FactScalar, loc: string): void => {
      const problem = valueProblem(spec, value);
      if (problem) fail(`${loc} ${JSON.stringify(value)} ${problem}`);
    };
    if (typeof condition !== 'object') {
      check(condition, at);
      tests.push({ fact: name, op: 'eq', value: condition });
      continue;
    }
    if (condition.in !== undefined) {
      condition.in.forEach((v, i) => check(v, `${at}.in[${i}]`));
      tests.push({ fact: name, op: 'in', values: condition.in });
    }
    if (condition.not !== undefined) {
      check(condition.not, `${at}.not`);
      tests.push({ fact: name, op: 'not', value: condition.not });
    }
    for (const op of COMPARISONS) {
      const bound = condition[op];
      if (bound === undefined) continue;
      if (spec.kind !== 'number') fail(`${at}.${op}: ${op} applies only to number facts, and ${name} is ${kindText(spec)}`);
      check(bound, `${at}.${op}`);
      tests.push({ fact: name, op, value: bound });
    }
  }
  return tests;
}

/** Why a value does not suit a fact, or undefined when it does. */
function valueProblem(spec: FactSpec, value: FactScalar): string | undefined {
  switch (spec.kind) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'is not true or false';
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'is not a number';
      return value < spec.minimum ? `is below the smallest possible value (${spec.minimum})` : undefined;
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value)
        ? undefined
        : `is not a possible value (allowed: ${spec.values.join(', ')})`;
  }
}

function kindText(spec: FactSpec): string {
  switch (spec.kind) {
    case 'boolean':
      return 'true or false';
    case 'number':
      return 'a number';
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
  }
}
