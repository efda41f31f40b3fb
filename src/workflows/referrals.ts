/**
 * Referrals: every `refer` decision (a decision with fields a named person must decide) opens a referral, linked to
 * the decision's ledger entry and routed to the decider role the rule names (team manager, Caldicott Guardian, data
 * protection officer) at the SHARING agency — the agency of the practitioner who asked.
 *
 *   open      inside the decision path (src/decisions/decide-and-record.ts): the referral id and time limit are in
 *             the decision's own ledger entry, and the row is written only after that entry has committed.
 *   decide    the decider (right role, same agency, a person, NOT the person who asked) decides share / share_some /
 *             do_not_share with reasons in their own words. The policy is asked again: only fields a refer rule sends
 *             to this decider can be released; a field a deny rule withholds can never be (refused, and recorded as a
 *             refusal). The decision is a `referral_decision` ledger entry pointing at the original entry, committed
 *             in the same transaction that marks the referral decided and queues `referral.decided`.
 *   overdue   a sweep flags undecided referrals past their time limit (settings.ts): ledger entry, `referral.overdue`.
 *
 * The ledger holds field names, rule ids and a hash of the decider's reasons; the reasons themselves are kept in the
 * referral row, for the practitioner who asked and the decider.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { contentHash, type AppendedEntry, type AuditLedger, type JsonObject } from '../audit/entry';
import type { Principal } from '../auth/principal';
import { actorOf } from '../audit/actor';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { DecisionAnswer } from '../decisions/answer';
import { ConflictError, InvalidInputError, NotFoundError, NotPermittedError, PolicyRefusalError, UnprocessableError } from '../errors';
import type { DecisionInput, PolicyEngine } from '../policy/types';
import { inTransaction } from '../db/tx';
import { isField, type Field, type Role } from '../vocabulary/vocabulary';
import { queueNotice } from './notices';
import { referralDueAt, type WorkflowSettings } from './settings';

export const DECIDER_ROLES = ['team_manager', 'caldicott_guardian', 'data_protection_officer'] as const satisfies readonly Role[];
export type DeciderRole = (typeof DECIDER_ROLES)[number];
export const isDeciderRole = (r: unknown): r is DeciderRole => typeof r === 'string' && (DECIDER_ROLES as readonly string[]).includes(r);

export const REFERRAL_OUTCOMES = ['share', 'share_some', 'do_not_share'] as const;
export type ReferralOutcome = (typeof REFERRAL_OUTCOMES)[number];

export interface ReferralDeps {
  readonly pool: Pool;
  readonly ledger: AuditLedger;
  readonly engine: PolicyEngine;
  /** Referral ids reach the ledger only as pseudonyms. */
  readonly pseudonymise: Pseudonymiser;
  readonly settings: WorkflowSettings;
  readonly now?: () => Date;
}

export interface PlannedReferral {
  readonly id: string;
  readonly deciderRole: DeciderRole;
  readonly dueAt: Date;
  readonly referredFields: readonly Field[];
}

/** What the decision path needs: plan before the ledger entry, open after it has committed. */
export interface ReferralOpener {
  plan(principal: Principal, answer: DecisionAnswer): PlannedReferral | undefined;
  open(
    planned: PlannedReferral,
    principal: Principal,
    input: DecisionInput,
    answer: DecisionAnswer,
    entry: AppendedEntry,
    subjectRef?: string,
  ): Promise<void>;
}

export function referralOpener(deps: ReferralDeps): ReferralOpener {
  return {
    plan(principal, answer) {
      const referredFields = answer.withheldFields.filter((w) => w.code === 'needs_referral').map((w) => w.field);
      if (referredFields.length === 0 || !isDeciderRole(answer.referTo)) return undefined;
      const rules = answer.withheldFields.filter((w) => w.code === 'needs_referral').flatMap((w) => (w.rule ? [w.rule] : []));
      const now = deps.now?.() ?? new Date();
      return {
        id: randomUUID(),
        deciderRole: answer.referTo,
        dueAt: referralDueAt(deps.settings, principal.agency.id, rules, now),
        referredFields,
      };
    },
    async open(planned, principal, input, answer, entry, subjectRef) {
      await deps.pool.query(
        `INSERT INTO referrals (id, agency_id, decider_role, decision_entry_id, decision_entry_seq, request, subject_ref, referred_fields,
                                permitted_fields, rules, asked_by_client, asked_by_practitioner, asked_by_name, asked_by_role, due_at)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [
          planned.id,
          principal.agency.id,
          planned.deciderRole,
          entry.entryId,
          entry.seq,
          JSON.stringify({
            from: { agencyType: input.from.agencyType, role: principal.role },
            to: input.to,
            purpose: input.purpose,
            subjectRole: input.subjectRole,
            fields: input.fields,
            facts: input.facts,
          }),
          subjectRef ?? null,
          [...planned.referredFields],
          [...answer.permittedFields],
          [...answer.rules],
          principal.clientId,
          principal.practitioner?.subject ?? null,
          principal.practitioner?.name?.slice(0, 200) ?? null,
          principal.role,
          planned.dueAt.toISOString(),
        ],
      );
    },
  };
}

// ─── Reading ───────────────────────────────────────────────────────────────────────────────────────────────────

interface ReferralRow {
  id: string;
  agency_id: string;
  decider_role: DeciderRole;
  decision_entry_id: string;
  decision_entry_seq: string;
  request: {
    from: { agencyType: string; role?: string };
    to: { agencyType: string; role: string };
    purpose: string;
    subjectRole: string;
    fields: string[];
    facts: Record<string, unknown>;
  };
  subject_ref: string | null;
  referred_fields: string[];
  permitted_fields: string[];
  rules: string[];
  asked_by_client: string;
  asked_by_practitioner: string | null;
  asked_by_name: string | null;
  asked_by_role: string;
  due_at: Date;
  status: 'open' | 'decided';
  overdue_flagged_at: Date | null;
  created_at: Date;
  outcome: ReferralOutcome | null;
  released_fields: string[] | null;
  reasons: string | null;
  decided_by_client: string | null;
  decided_by_practitioner: string | null;
  decided_by_name: string | null;
  decided_by_role: string | null;
  decided_at: Date | null;
  decided_entry_id: string | null;
}
const COLUMNS = `id, agency_id, decider_role, decision_entry_id, decision_entry_seq::text AS decision_entry_seq, request, subject_ref,
  referred_fields, permitted_fields, rules, asked_by_client, asked_by_practitioner, asked_by_name, asked_by_role, due_at, status,
  overdue_flagged_at, created_at, outcome, released_fields, reasons, decided_by_client, decided_by_practitioner, decided_by_name,
  decided_by_role, decided_at, decided_entry_id`;

export interface ReferralView {
  readonly id: string;
  readonly status: 'open' | 'decided';
  readonly overdue: boolean;
  readonly agencyId: string;
  readonly deciderRole: DeciderRole;
  readonly createdAt: string;
  readonly dueAt: string;
  readonly request: ReferralRow['request'];
  readonly subjectRef: string | null;
  readonly referredFields: readonly string[];
  readonly permittedFields: readonly string[];
  readonly rules: readonly string[];
  readonly askedBy: { readonly name: string | null; readonly role: string; readonly you: boolean };
  readonly decisionEntry: { readonly entryId: string; readonly seq: number };
  readonly decision?: {
    readonly outcome: ReferralOutcome;
    readonly releasedFields: readonly string[];
    readonly reasons: string;
    readonly decidedBy: { readonly name: string | null; readonly role: string | null };
    readonly decidedAt: string;
    readonly entryId: string | null;
  };
}

const isAsker = (r: Pick<ReferralRow, 'asked_by_client' | 'asked_by_practitioner' | 'agency_id'>, p: Principal): boolean =>
  r.agency_id === p.agency.id && r.asked_by_client === p.clientId && r.asked_by_practitioner === (p.practitioner?.subject ?? null);

function viewOf(r: ReferralRow, p: Principal, now: Date): ReferralView {
  return {
    id: r.id,
    status: r.status,
    overdue: r.status === 'open' && r.due_at < now,
    agencyId: r.agency_id,
    deciderRole: r.decider_role,
    createdAt: r.created_at.toISOString(),
    dueAt: r.due_at.toISOString(),
    request: r.request,
    subjectRef: r.subject_ref,
    referredFields: r.referred_fields,
    permittedFields: r.permitted_fields,
    rules: r.rules,
    askedBy: { name: r.asked_by_name, role: r.asked_by_role, you: isAsker(r, p) },
    decisionEntry: { entryId: r.decision_entry_id, seq: Number(r.decision_entry_seq) },
    ...(r.status === 'decided' && r.outcome && r.decided_at
      ? {
          decision: {
            outcome: r.outcome,
            releasedFields: r.released_fields ?? [],
            reasons: r.reasons ?? '',
            decidedBy: { name: r.decided_by_name, role: r.decided_by_role },
            decidedAt: r.decided_at.toISOString(),
            entryId: r.decided_entry_id,
          },
        }
      : {}),
  };
}

export type ReferralListView = 'queue' | 'mine';
export interface ReferralQuery {
  readonly view?: ReferralListView;
  readonly status?: 'open' | 'decided';
  readonly overdue?: boolean;
  readonly limit?: number;
}

/** The decider's queue (referrals to the caller's role at the caller's agency), or the practitioner's own referrals. */
export async function listReferrals(
  deps: Pick<ReferralDeps, 'pool' | 'now'>,
  p: Principal,
  q: ReferralQuery,
): Promise<{ view: ReferralListView; referrals: ReferralView[] }> {
  const now = deps.now?.() ?? new Date();
  const view: ReferralListView = q.view ?? (isDeciderRole(p.role) ? 'queue' : 'mine');
  const where: string[] = ['agency_id = $1'];
  const params: unknown[] = [p.agency.id];
  if (view === 'queue') {
    if (!isDeciderRole(p.role))
      throw new NotPermittedError(
        'not_permitted',
        `Only a team manager, Caldicott Guardian or data protection officer has a referral queue; you are acting as "${p.role}". Use view=mine for the referrals you asked for.`,
      );
    where.push(`decider_role = $${params.push(p.role)}`);
  } else {
    where.push(`asked_by_client = $${params.push(p.clientId)}`);
    where.push(p.practitioner ? `asked_by_practitioner = $${params.push(p.practitioner.subject)}` : 'asked_by_practitioner IS NULL');
  }
  if (q.status) where.push(`status = $${params.push(q.status)}`);
  if (q.overdue !== undefined)
    where.push(
      q.overdue
        ? `(status = 'open' AND due_at < $${params.push(now.toISOString())})`
        : `NOT (status = 'open' AND due_at < $${params.push(now.toISOString())})`,
    );
  const { rows } = await deps.pool.query<ReferralRow>(
    `SELECT ${COLUMNS} FROM referrals WHERE ${where.join(' AND ')} ORDER BY (status = 'open') DESC, due_at, id LIMIT ${Math.min(q.limit ?? 100, 200)}`,
    params,
  );
  return { view, referrals: rows.map((r) => viewOf(r, p, now)) };
}

const notFound = (): NotFoundError => new NotFoundError('referral_not_found', 'No referral with that id is open to you.');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who may see a referral: its asker, and the deciders of its role at its agency. Anyone else: 404. */
function maySee(r: ReferralRow, p: Principal): boolean {
  return r.agency_id === p.agency.id && (isAsker(r, p) || p.role === r.decider_role);
}

export async function getReferral(deps: Pick<ReferralDeps, 'pool' | 'now'>, p: Principal, id: string): Promise<ReferralView> {
  if (!UUID.test(id)) throw notFound();
  const { rows } = await deps.pool.query<ReferralRow>(`SELECT ${COLUMNS} FROM referrals WHERE id = $1`, [id]);
  const r = rows[0];
  if (!r || !maySee(r, p)) throw notFound();
  return viewOf(r, p, deps.now?.() ?? new Date());
}

// ─── Deciding ──────────────────────────────────────────────────────────────────────────────────────────────────

export interface ReferralDecisionInput {
  readonly decision: ReferralOutcome;
  readonly fields?: readonly Field[];
  readonly reasons: string;
}

const label = (f: string): string => f.replace(/_/g, ' ');

/**
 * Decides a referral. Throws a RefusalError (recorded as a refusal by the HTTP layer) for: not the decider role (403),
 * the asker deciding their own referral (403), a field withheld by a deny rule (403), a field the referral does not
 * ask about (422), an inconsistent decision (422), an already decided referral (409).
 */
export async function decideReferral(
  deps: ReferralDeps,
  p: Principal,
  id: string,
  input: ReferralDecisionInput,
  requestId: string,
): Promise<ReferralView> {
  if (!UUID.test(id)) throw notFound();
  const reasons = input.reasons.trim();
  if (reasons.length === 0)
    throw new InvalidInputError(
      'invalid_input',
      'Give your reasons, in your own words: the decision and why must be recorded whether or not you share.',
      { errors: [{ pointer: '/reasons', detail: 'reasons are required' }] },
    );
  const now = deps.now?.() ?? new Date();
  return inTransaction(deps.pool, async (client: PoolClient) => {
    const { rows } = await client.query<ReferralRow>(`SELECT ${COLUMNS} FROM referrals WHERE id = $1 FOR UPDATE`, [id]);
    const r = rows[0];
    if (!r || !maySee(r, p)) throw notFound();
    if (p.role !== r.decider_role) {
      throw new NotPermittedError(
        'not_permitted',
        `This referral is for the ${label(r.decider_role)} to decide; you are acting as "${p.role}".`,
      );
    }
    if (!p.practitioner) throw new NotPermittedError('not_permitted', 'A referral is decided by a named person, not by a system client.');
    if (isAsker(r, p)) {
      throw new PolicyRefusalError(
        'You asked for this referral, so you cannot decide it: another person in the role must decide, so that the decision is ' +
          'independent.',
      );
    }
    if (r.status !== 'open')
      throw new ConflictError(
        'already_decided',
        `This referral was already decided (${r.outcome ?? ''}) on ${r.decided_at?.toISOString() ?? ''}.`,
      );

    // Ask the policy again, with the request exactly as it was asked: only what a refer rule sends to THIS decider can go.
    const request = r.request;
    const fields = request.fields.filter(isField);
    const decision = deps.engine.decide({ ...(request as unknown as DecisionInput), fields });
    const denied = new Map(decision.withheldFields.filter((w) => w.code === 'denied_by_rule').map((w) => [w.field, w.rule ?? '']));
    const releasable =
      decision.referTo === r.decider_role
        ? decision.withheldFields.filter((w) => w.code === 'needs_referral' && r.referred_fields.includes(w.field)).map((w) => w.field)
        : [];
    const asked = input.fields ?? (input.decision === 'share' ? r.referred_fields.filter(isField) : []);
    type Problem = { pointer: string; detail: string; word: Field; code: 'denied' | 'not_referred' };
    const problems = asked.flatMap((f, i): Problem[] => {
      const rule = denied.get(f);
      if (rule !== undefined)
        return [
          {
            pointer: `/fields/${i}`,
            detail: `${label(f)} is withheld by the rule "${rule}": a deny rule can never be overridden through a referral.`,
            word: f,
            code: 'denied',
          },
        ];
      if (!releasable.includes(f))
        return [
          {
            pointer: `/fields/${i}`,
            detail: `${label(f)} is not something this referral asks you to decide (no refer rule sends it to the ${label(r.decider_role)}).`,
            word: f,
            code: 'not_referred',
          },
        ];
      return [];
    });
    if (problems.some((x) => x.code === 'denied')) {
      throw new PolicyRefusalError(
        `You cannot release ${problems
          .filter((x) => x.code === 'denied')
          .map((x) => label(x.word))
          .join(', ')}: ${problems[0]?.detail ?? ''}`,
        { errors: problems.map(({ code: _c, ...rest }) => rest) },
      );
    }
    if (problems.length > 0)
      throw new UnprocessableError('decision_not_possible', problems.map((x) => x.detail).join(' '), {
        errors: problems.map(({ code: _c, ...rest }) => rest),
      });
    const released = [...new Set(asked)];
    if (input.decision === 'do_not_share' && released.length > 0)
      throw new UnprocessableError('decision_not_possible', 'A decision not to share releases no fields: leave fields empty.', {
        errors: [{ pointer: '/fields', detail: 'must be empty for do_not_share' }],
      });
    if (input.decision === 'share_some' && (released.length === 0 || released.length >= releasable.length)) {
      throw new UnprocessableError(
        'decision_not_possible',
        'Share some means some, not all and not none, of the fields the referral asks about: name them in fields.',
        { errors: [{ pointer: '/fields', detail: 'name some of the referred fields' }] },
      );
    }
    if (input.decision === 'share' && releasable.length < r.referred_fields.length) {
      throw new UnprocessableError(
        'decision_not_possible',
        `Not every field of this referral may be released now (the policy has changed): decide share_some with ${releasable.map(label).join(', ') || 'no fields'}.`,
        { errors: [{ pointer: '/decision', detail: 'share is not possible' }] },
      );
    }
    const notReleased = r.referred_fields.filter((f) => !released.includes(f as Field));
    const entry = await deps.ledger.append({
      kind: 'referral_decision',
      outcome: input.decision,
      requestId,
      actor: actorOf(p),
      purpose: request.purpose as DecisionInput['purpose'],
      rules: decision.withheldFields.filter((w) => w.code === 'needs_referral' && w.rule).map((w) => w.rule as string),
      payload: {
        referralId: deps.pseudonymise(r.id),
        decisionEntryId: r.decision_entry_id,
        decisionEntrySeq: Number(r.decision_entry_seq),
        deciderRole: r.decider_role,
        fieldsReleased: released,
        fieldsNotReleased: notReleased,
        askedBy: { clientId: r.asked_by_client, practitioner: r.asked_by_practitioner, role: r.asked_by_role },
        reasonsHash: contentHash({ reasons }),
        policyVersion: decision.policyVersion,
      } satisfies JsonObject,
    });
    await client.query(
      `UPDATE referrals SET status = 'decided', outcome = $2, released_fields = $3, reasons = $4, decided_by_client = $5,
              decided_by_practitioner = $6, decided_by_name = $7, decided_by_role = $8, decided_at = $9, decided_entry_id = $10
        WHERE id = $1`,
      [
        r.id,
        input.decision,
        released,
        reasons,
        p.clientId,
        p.practitioner.subject,
        p.practitioner.name?.slice(0, 200) ?? null,
        p.role,
        entry.recordedAt.toISOString(),
        entry.entryId,
      ],
    );
    await queueNotice(client, 'referral_decided', [r.agency_id], { referralId: r.id }, r.id);
    const { rows: after } = await client.query<ReferralRow>(`SELECT ${COLUMNS} FROM referrals WHERE id = $1`, [id]);
    return viewOf(after[0] as ReferralRow, p, now);
  });
}

// ─── Overdue ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Flags undecided referrals past their time limit: a ledger entry each, then `referral.overdue`. Returns how many. */
export async function flagOverdueReferrals(
  deps: Pick<ReferralDeps, 'pool' | 'ledger' | 'pseudonymise' | 'now'>,
  requestId: string = randomUUID(),
): Promise<number> {
  const now = deps.now?.() ?? new Date();
  return inTransaction(deps.pool, async (client) => {
    const { rows } = await client.query<{ id: string; agency_id: string; decider_role: string; due_at: Date; decision_entry_id: string }>(
      `SELECT id, agency_id, decider_role, due_at, decision_entry_id FROM referrals
        WHERE status = 'open' AND overdue_flagged_at IS NULL AND due_at < $1 ORDER BY due_at, id LIMIT 100 FOR UPDATE SKIP LOCKED`,
      [now.toISOString()],
    );
    for (const r of rows) {
      await deps.ledger.append({
        kind: 'referral',
        outcome: 'overdue',
        requestId,
        actor: null,
        payload: {
          referralId: deps.pseudonymise(r.id),
          agencyId: r.agency_id,
          deciderRole: r.decider_role,
          dueAt: r.due_at.toISOString(),
          decisionEntryId: r.decision_entry_id,
        },
      });
      await client.query('UPDATE referrals SET overdue_flagged_at = $2 WHERE id = $1', [r.id, now.toISOString()]);
      await queueNotice(client, 'referral_overdue', [r.agency_id], { referralId: r.id }, r.id);
    }
    return rows.length;
  });
}
