/**
 * The decision path shared by the API (POST /v1/decisions) and the practitioners' pages ("Can I share this?"):
 *
 *   1. the caller may only ask about sharing FROM its own agency (else a refusal, recorded by the caller's error path);
 *   2. the policy engine decides (it never throws; an internal error is a deny);
 *   3. the decision is appended to the audit ledger and COMMITTED — the promise resolves only after COMMIT;
 *   4. only then does the caller get the answer to send. If step 3 fails this throws and nothing may be sent.
 *
 * The ledger entry holds field names, rule ids, facts, a pseudonym of the subject reference and a hash of the
 * answer: never record values.
 */
import type { Pool } from 'pg';
import { PolicyRefusalError } from '../errors';
import type { DecisionInput, PolicyEngine } from '../policy/types';
import { englandToday } from '../policy/obligation';
import { DEFAULT_SCHOOL_CALENDAR, type SchoolCalendar } from '../notifications/school-day';
import { deriveFacts, sourcesJson } from './derive-facts';
import { subjectDerivations } from './subject-facts';
import { contentHashOfCanonical, type AppendedEntry, type AuditLedger } from '../audit/entry';
import { canonicalJson } from '../audit/canonical-json';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { Principal } from '../auth/principal';
import { actorOf } from '../audit/actor';
import type { ReferralOpener } from '../workflows/referrals';
import type { AnswerFacts, DecisionAnswer } from './answer';

export type { AnswerFacts, DecisionAnswer } from './answer';

export interface RecordedDecision {
  readonly answer: DecisionAnswer;
  /** The answer's RFC 8785 JSON: the text whose keyed hash is the entry's `answerHash` (the API sends it as it is). */
  readonly answerJson: string;
  readonly entry: AppendedEntry;
}

export interface DecisionServiceDeps {
  readonly engine: PolicyEngine;
  readonly ledger: AuditLedger;
  readonly pseudonymise: Pseudonymiser;
  /** Opens a referral for every decision with fields a named person must decide (absent: none is opened). */
  readonly referrals?: ReferralOpener;
  /** Where the gateway reads households and agreements to derive facts (absent: only the calendar is used). */
  readonly pool?: Pool;
  /** The Operation Encompass school calendar (default: DEFAULT_SCHOOL_CALENDAR). */
  readonly schoolCalendar?: SchoolCalendar;
  /** The clock (tests may fix it). */
  readonly now?: () => Date;
}

export interface DecisionContext {
  readonly requestId: string;
  readonly subjectRef?: string | undefined;
  /** A person the caller's agency knows: the gateway derives household facts about them. */
  readonly subjectPersonId?: string | undefined;
  /** The recipient agency's registry id: the gateway derives agreement_in_force. */
  readonly toAgencyId?: string | undefined;
}

export async function decideAndRecord(
  deps: DecisionServiceDeps,
  principal: Principal,
  input: DecisionInput,
  context: DecisionContext,
): Promise<RecordedDecision> {
  if (input.from.agencyType !== principal.agency.agencyType) {
    throw new PolicyRefusalError(
      `You can only ask about sharing from your own agency (${principal.agency.agencyType}); this request named ${input.from.agencyType}.`,
    );
  }

  // Facts the gateway can work out are worked out, never taken on trust; every fact is marked with its source.
  const now = deps.now?.() ?? new Date();
  const known =
    deps.pool && (context.subjectPersonId !== undefined || context.toAgencyId !== undefined)
      ? await subjectDerivations(deps.pool, {
          callerAgencyId: principal.agency.id,
          purpose: input.purpose,
          ...(context.subjectPersonId !== undefined ? { subjectPersonId: context.subjectPersonId } : {}),
          to: { agencyType: input.to.agencyType, ...(context.toAgencyId !== undefined ? { agencyId: context.toAgencyId } : {}) },
          now,
        })
      : {};
  const derived = deriveFacts(input.facts, {
    now,
    calendar: deps.schoolCalendar ?? DEFAULT_SCHOOL_CALENDAR,
    assertedBy: 'caller',
    ...known,
  });
  const sources = sourcesJson(derived.sources);
  const facts: AnswerFacts = {};
  for (const [name, value] of Object.entries(derived.facts) as Array<[string, boolean | number | string]>) {
    facts[name] = { value, ...(sources[name] as { source: 'asserted' | 'derived' }) };
  }

  // The sharer's role is the caller's own, from its token: never taken from the body.
  const decision = deps.engine.decide({
    ...input,
    from: { agencyType: input.from.agencyType, role: principal.role },
    facts: derived.facts,
    on: englandToday(now),
  });
  const decided: DecisionAnswer = {
    decision: decision.decision,
    permittedFields: decision.permittedFields,
    withheldFields: decision.withheldFields,
    rules: decision.rules,
    lawfulBasis: decision.lawfulBasis,
    reasons: decision.reasons,
    mustRecord: decision.mustRecord,
    ...(decision.referTo ? { referTo: decision.referTo } : {}),
    ...(decision.sharing ? { sharing: decision.sharing } : {}),
    agreementGaps: decision.agreementGaps,
    facts,
    policyVersion: decision.policyVersion,
  };
  // A referral's id and time limit go into the decision's own entry; its row is written once that entry has committed.
  const planned = deps.referrals?.plan(principal, decided);
  const answer: DecisionAnswer = planned
    ? { ...decided, referral: { id: planned.id, deciderRole: planned.deciderRole, dueAt: planned.dueAt.toISOString() } }
    : decided;

  const answerJson = canonicalJson(answer);
  const entry = await deps.ledger.append({
    kind: 'decision',
    outcome: decision.decision,
    requestId: context.requestId,
    actor: actorOf(principal),
    purpose: input.purpose,
    rules: decision.rules,
    payload: {
      from: input.from.agencyType,
      to: { agencyType: input.to.agencyType, role: input.to.role },
      subjectRole: input.subjectRole,
      subjectRef: context.subjectRef
        ? deps.pseudonymise(context.subjectRef)
        : context.subjectPersonId
          ? deps.pseudonymise(context.subjectPersonId)
          : null,
      toAgencyId: context.toAgencyId ?? null,
      fieldsRequested: [...input.fields],
      permittedFields: [...decision.permittedFields],
      withheldFields: decision.withheldFields.map((w) => ({
        field: w.field,
        code: w.code,
        rule: w.rule ?? null,
        routes: w.routes.map((r) => r.rule),
      })),
      facts: { ...derived.facts },
      factSources: sources,
      referTo: decision.referTo ?? null,
      ...(planned
        ? {
            referral: {
              // The referral by pseudonym only (the answer gives the caller its id).
              id: deps.pseudonymise(planned.id),
              deciderRole: planned.deciderRole,
              dueAt: planned.dueAt.toISOString(),
              fields: [...planned.referredFields],
            },
          }
        : {}),
      sharing: decision.sharing ?? null,
      agreementGaps: decision.agreementGaps.map((g) => ({ rule: g.rule, agreement: g.agreement })),
      policyVersion: decision.policyVersion,
      answerHash: contentHashOfCanonical(answerJson),
    },
  });
  if (planned && deps.referrals) await deps.referrals.open(planned, principal, input, decided, entry, context.subjectRef);
  return { answer, answerJson, entry };
}
