import type { AgencyType, DecisionOutcome, Facts, Field, Purpose, Role, SubjectRole } from '../vocabulary/vocabulary';

/** What the decision engine is asked: may `from` disclose `fields` about a `subjectRole` to `to`, for `purpose`? */
export interface DecisionInput {
  /** `role` is optional: the HTTP API does not send it; a rule that names `from.roles` never matches without it. */
  readonly from: { readonly agencyType: AgencyType; readonly role?: Role };
  readonly to: { readonly agencyType: AgencyType; readonly role: Role };
  readonly purpose: Purpose;
  readonly subjectRole: SubjectRole;
  readonly fields: readonly Field[];
  readonly facts: Facts;
}

/** The lawful basis a permitting rule cites. */
export interface LawfulBasis {
  readonly rule: string;
  /** e.g. "Children Act 1989 s.47" */
  readonly statute: string;
  /** e.g. "Article 6(1)(e) public task" */
  readonly ukGdprArticle6: string;
  /** e.g. "Article 9(2)(g) substantial public interest"; absent when no special category data is granted */
  readonly ukGdprArticle9?: string;
  /** e.g. "DPA 2018 Schedule 1 Part 2 paragraph 18 (safeguarding of children and individuals at risk)" */
  readonly dpa2018Schedule1?: string;
}

export interface WithheldField {
  readonly field: Field;
  /** Stable reason code, e.g. `no_rule_permits`, `denied_by_rule`, `needs_referral`. */
  readonly code: WithheldCode;
  /** Plain-English reason a practitioner understands. */
  readonly reason: string;
  /** The deny or refer rule responsible, when one is. */
  readonly rule?: string;
}
export type WithheldCode = 'no_rule_permits' | 'denied_by_rule' | 'needs_referral';

/** The engine's answer (the HTTP layer adds auditEntryId once the ledger has committed it). */
export interface Decision {
  readonly decision: DecisionOutcome;
  readonly permittedFields: readonly Field[];
  readonly withheldFields: readonly WithheldField[];
  /** Ids of every rule that contributed (permits, denies and refers). */
  readonly rules: readonly string[];
  /** One entry per permitting rule that granted at least one field. */
  readonly lawfulBasis: readonly LawfulBasis[];
  readonly reasons: readonly string[];
  readonly mustRecord: readonly string[];
  /** Who must decide, when decision is `refer` (or some fields need a referral). */
  readonly referTo?: Role;
  readonly policyVersion: string;
  /** Set only when the engine could not evaluate the request at all; the decision is then always `deny`. */
  readonly failure?: DecisionFailure;
}

/**
 * Why a request could not be evaluated: `invalid_input` (a word or fact value outside the vocabulary reached the
 * engine) or `policy_evaluation_error` (an internal fault). Both fail closed.
 */
export interface DecisionFailure {
  readonly code: DecisionFailureCode;
}
export type DecisionFailureCode = 'invalid_input' | 'policy_evaluation_error';

/** A loaded, compiled policy catalogue. */
export interface PolicyEngine {
  readonly version: string;
  decide(input: DecisionInput): Decision;
}
