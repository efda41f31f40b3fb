/**
 * What a decision answers, as a type of its own: the decision path (decide-and-record.ts) makes it, and the
 * referrals that open from it (src/workflows/referrals.ts) read it, without importing the decision path.
 */
import type { Decision } from '../policy/types';

/** Every fact the decision was made on, with where it came from. */
export type AnswerFacts = Record<
  string,
  { readonly value: boolean | number | string; readonly source: 'asserted' | 'derived'; readonly by?: string; readonly from?: string }
>;

export interface DecisionAnswer {
  readonly decision: Decision['decision'];
  readonly permittedFields: Decision['permittedFields'];
  readonly withheldFields: Decision['withheldFields'];
  readonly rules: Decision['rules'];
  readonly lawfulBasis: Decision['lawfulBasis'];
  readonly reasons: Decision['reasons'];
  readonly mustRecord: Decision['mustRecord'];
  readonly referTo?: Decision['referTo'];
  readonly sharing?: Decision['sharing'];
  readonly agreementGaps: Decision['agreementGaps'];
  readonly facts: AnswerFacts;
  readonly policyVersion: string;
  /** The referral a `refer` decision opened (src/workflows/referrals.ts): where the decider will find it. */
  readonly referral?: { readonly id: string; readonly deciderRole: string; readonly dueAt: string };
}
