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
  /** The decision date (YYYY-MM-DD, England) that decides which duties are in force. Default: today in England. */
  readonly on?: string;
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
  /** The fields this rule granted in this decision. */
  readonly fields: readonly Field[];
  /** Duty ("you must share") or power ("you may share") on the decision date, citing the provision. */
  readonly sharing: SharingObligation;
}

export interface SharingObligation {
  readonly kind: 'duty' | 'power';
  /** The duty in force that applies to this discloser, or else the power relied on. */
  readonly provision: string;
  /** Plain English: "You must share ..." / "You may share ...". */
  readonly explanation: string;
  /** Duties in the rule that are not in force on the decision date (inForceFrom null: not yet commenced). */
  readonly notYetInForce: readonly { readonly provision: string; readonly inForceFrom: string | null }[];
}

/**
 * A lawful route by which a withheld field could be shared: a permit rule of the catalogue whose recipient,
 * purpose or facts differ from this request's, checked against the whole catalogue (a route a deny rule forbids is
 * never offered). Never a change of discloser, of whose data it is, of who is asking, or of time.
 */
export interface SharingRoute {
  readonly rule: string;
  readonly title: string;
  /** What would have to be different: facts, the recipient, the purpose (empty never: that would be a permit). */
  readonly changes: readonly ('facts' | 'recipient' | 'purpose')[];
  /** Facts that would have to hold (only those that do not hold now), as the rule tests them. */
  readonly facts: Readonly<Record<string, boolean | number | string>>;
  /** The recipients the rule allows, when the request's recipient is not one of them. */
  readonly recipient?: { readonly agencyTypes: readonly AgencyType[]; readonly roles?: readonly Role[] };
  /** The purposes the rule allows, when the request's purpose is not one of them. */
  readonly purposes?: readonly Purpose[];
  readonly statute: string;
  readonly sharing: 'duty' | 'power';
  /** Plain English: "If significant harm is suspected, this may be shared with children's social care under ...". */
  readonly explanation: string;
}

/** A permit that went ahead although the data sharing agreement the rule names is not in force. */
export interface AgreementGap {
  readonly rule: string;
  readonly agreement: string;
  /** Who must be told. */
  readonly notify: 'information_governance';
  readonly explanation: string;
}

export interface WithheldField {
  readonly field: Field;
  /** Stable reason code, e.g. `no_rule_permits`, `denied_by_rule`, `needs_referral`. */
  readonly code: WithheldCode;
  /** Plain-English reason a practitioner understands. */
  readonly reason: string;
  /** The deny or refer rule responsible, when one is. */
  readonly rule?: string;
  /** For `needs_referral`: who must decide (the refer rule's `referTo`). */
  readonly referTo?: Role;
  /** The nearest lawful routes by which this field could be shared (none when no route exists). */
  readonly routes: readonly SharingRoute[];
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
  /** Duty or power for the permitted fields: `duty` only when every permitted field is shared under a duty in force. */
  readonly sharing?: 'duty' | 'power';
  /** Permits that went ahead although the agreement their rule names is not in force: tell information governance. */
  readonly agreementGaps: readonly AgreementGap[];
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
