/**
 * The sharing rules as the engine holds them after loading and validating `policies/*.yaml`.
 * Every word in here has already been checked against the vocabulary: nothing downstream re-parses YAML.
 */
import type { AgencyType, FactName, Field, Purpose, Role, SubjectRole } from '../vocabulary/vocabulary';

export const EFFECTS = ['permit', 'deny', 'refer'] as const;
export type Effect = (typeof EFFECTS)[number];

/** Which words a rule applies to: all of them, only some, or all but some. */
export type Selector<T extends string> =
  | { readonly kind: 'any' }
  | { readonly kind: 'only'; readonly values: readonly T[] }
  | { readonly kind: 'except'; readonly values: readonly T[] };

/** One side of a disclosure: the disclosing agency (`from`) or the recipient (`to`). */
export interface PartySelector {
  readonly agencyTypes: Selector<AgencyType>;
  /** `any` when the rule does not name roles. */
  readonly roles: Selector<Role>;
}

export type FactScalar = boolean | number | string;
export const COMPARISONS = ['lte', 'lt', 'gte', 'gt'] as const;
export type Comparison = (typeof COMPARISONS)[number];

/** One test on one fact. A missing fact never satisfies any test (not even `not`). */
export type FactTest =
  | { readonly fact: FactName; readonly op: 'eq'; readonly value: FactScalar }
  | { readonly fact: FactName; readonly op: 'not'; readonly value: FactScalar }
  | { readonly fact: FactName; readonly op: 'in'; readonly values: readonly FactScalar[] }
  | { readonly fact: FactName; readonly op: Comparison; readonly value: number };

export interface RuleLawfulBasis {
  readonly statute: string;
  readonly ukGdprArticle6: string;
  readonly ukGdprArticle9?: string;
  readonly dpa2018Schedule1?: string;
}

/**
 * Whether sharing under a permit is a duty ("you must share") or a power ("you may share"). A duty applies from its
 * commencement date (`inForceFrom`, YYYY-MM-DD) to the disclosing agency types it names (all the rule covers when
 * absent); a duty not yet commenced (`inForceFrom` absent) is reported, and sharing is a power until it is.
 */
export interface RuleDuty {
  readonly provision: string;
  readonly disclosers?: readonly AgencyType[];
  readonly inForceFrom?: string;
}
export interface RuleSharing {
  /** The provision that lets the discloser share when no duty applies (there is always one for a permit). */
  readonly power: string;
  readonly duties: readonly RuleDuty[];
}

export interface PolicyRule {
  readonly id: string;
  readonly title: string;
  readonly effect: Effect;
  /** The rule file it came from, e.g. `marac.yaml`. */
  readonly file: string;
  readonly from: PartySelector;
  readonly to: PartySelector;
  readonly purposes: Selector<Purpose>;
  readonly subjectRoles: Selector<SubjectRole>;
  /** The fields the rule grants (permit), withholds (deny) or sends for a decision (refer). `all` only for deny/refer. */
  readonly fields: readonly Field[] | 'all';
  /** Every test must hold. */
  readonly when: readonly FactTest[];
  /** Alternatives: at least one group must hold in full (empty: no alternatives). */
  readonly whenAny: readonly (readonly FactTest[])[];
  readonly lawfulBasis?: RuleLawfulBasis;
  /** Permit rules only: duty or power, with commencement dates. */
  readonly sharing?: RuleSharing;
  readonly mustRecord: readonly string[];
  readonly reason?: string;
  readonly referTo?: Role;
  readonly agreement?: string;
}

/** The validated catalogue: its metadata, its rules in precedence order, and the version that names it. */
export interface PolicyCatalogue {
  readonly version: string;
  readonly catalogueVersion: string;
  readonly title?: string;
  readonly files: readonly string[];
  readonly rules: readonly PolicyRule[];
}
