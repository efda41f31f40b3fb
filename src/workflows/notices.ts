/**
 * The workflows' webhooks, through the notifications outbox (src/notifications/): queued in the SAME transaction as
 * the step that causes them, built at delivery from what is stored then, and — like every message — recorded in the
 * ledger by the dispatcher before it is POSTed.
 *
 *   referral_decided              → the sharing agency (its practitioner asked): outcome, fields released (names).
 *   referral_overdue              → the sharing agency (its decider has not decided in time).
 *   information_request_received  → each agency asked: who asks, for what purpose, which fields (names), deadline.
 *   information_request_answered  → the requesting agency: which agency answered or declined.
 *   information_request_overdue   → the requesting agency and the agency that has not answered.
 *
 * These messages carry ids, statuses, vocabulary words and field NAMES only — never a record's values and never the
 * free text of a decider's reasons (the recipient reads those through the API, as the person entitled to them).
 */
import type { PoolClient } from 'pg';
import type { JsonObject } from '../audit/entry';
import { enqueue } from '../notifications/outbox';
import { EVENT_OF_KIND, type OutboxKind } from '../notifications/events';
import type { BuildDeps, BuiltMessage, OutboxMessage } from '../notifications/message';
import { isAgencyType } from '../vocabulary/vocabulary';

export type WorkflowNoticeKind = Extract<
  OutboxKind,
  'referral_decided' | 'referral_overdue' | 'information_request_received' | 'information_request_answered' | 'information_request_overdue'
>;
export const WORKFLOW_NOTICE_KINDS: readonly WorkflowNoticeKind[] = [
  'referral_decided',
  'referral_overdue',
  'information_request_received',
  'information_request_answered',
  'information_request_overdue',
];
export const isWorkflowNoticeKind = (kind: string): kind is WorkflowNoticeKind =>
  (WORKFLOW_NOTICE_KINDS as readonly string[]).includes(kind);

/** The gateway's own rule for workflow notices: participants are told of the steps of their own workflow. */
export const WORKFLOW_NOTICE_RULE = 'workflow-notice-to-participant';

/** Queues one notice per active subscription of each agency to the kind's event. Returns how many were new. */
export async function queueNotice(
  client: PoolClient,
  kind: WorkflowNoticeKind,
  agencyIds: readonly string[],
  payload: JsonObject,
  cause: string,
): Promise<number> {
  if (agencyIds.length === 0) return 0;
  const { rows } = await client.query<{ id: string; agency_id: string }>(
    `SELECT id, agency_id FROM webhook_subscriptions
      WHERE agency_id = ANY($1::text[]) AND removed_at IS NULL AND $2 = ANY (events) ORDER BY created_at, id`,
    [[...new Set(agencyIds)], EVENT_OF_KIND[kind]],
  );
  return enqueue(
    client,
    rows.map((s) => ({ kind, targetAgencyId: s.agency_id, subscriptionId: s.id, payload, dedupeKey: `${kind}:${cause}:${s.id}` })),
  );
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

async function referralBody(db: PoolClient, m: OutboxMessage): Promise<JsonObject | undefined> {
  const id = str(m.payload.referralId);
  if (!id) return undefined;
  const { rows } = await db.query<{
    id: string;
    agency_id: string;
    status: string;
    outcome: string | null;
    released_fields: string[] | null;
    decider_role: string;
    due_at: Date;
    decided_at: Date | null;
    decision_entry_id: string;
    decided_entry_id: string | null;
    request: { purpose?: string };
  }>(
    `SELECT id, agency_id, status, outcome, released_fields, decider_role, due_at, decided_at, decision_entry_id, decided_entry_id, request
       FROM referrals WHERE id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r || r.agency_id !== m.targetAgencyId) return undefined;
  return {
    type: m.kind,
    referralId: r.id,
    status: r.status,
    deciderRole: r.decider_role,
    purpose: str(r.request.purpose),
    dueAt: r.due_at.toISOString(),
    outcome: r.outcome,
    releasedFields: r.released_fields ?? [],
    decidedAt: r.decided_at?.toISOString() ?? null,
    ledger: { decisionEntryId: r.decision_entry_id, referralDecisionEntryId: r.decided_entry_id },
    href: `/v1/referrals/${r.id}`,
  };
}

async function requestBody(db: PoolClient, m: OutboxMessage): Promise<JsonObject | undefined> {
  const id = str(m.payload.informationRequestId);
  if (!id) return undefined;
  const { rows } = await db.query<{
    id: string;
    requester_agency_id: string;
    purpose: string;
    priority: string;
    template: string | null;
    fields: string[];
    deadline: Date;
    subject_person_id: string | null;
    case_reference: string | null;
    subject_role: string;
  }>(
    `SELECT id, requester_agency_id, purpose, priority, template, fields, deadline, subject_person_id, case_reference, subject_role
       FROM information_requests WHERE id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  const { rows: targets } = await db.query<{ agency_id: string; status: string; deadline: Date }>(
    'SELECT agency_id, status, deadline FROM information_request_targets WHERE request_id = $1 ORDER BY agency_id',
    [id],
  );
  const isRequester = r.requester_agency_id === m.targetAgencyId;
  const mine = targets.find((t) => t.agency_id === m.targetAgencyId);
  if (!isRequester && !mine) return undefined;
  const agencyId = str(m.payload.agencyId);
  return {
    type: m.kind,
    informationRequestId: r.id,
    requesterAgencyId: r.requester_agency_id,
    purpose: r.purpose,
    priority: r.priority,
    template: r.template,
    subject: { personId: r.subject_person_id, caseReference: r.case_reference, subjectRole: r.subject_role },
    fields: r.fields,
    deadline: r.deadline.toISOString(),
    // The requester sees every agency's status; an agency asked sees its own.
    agencies: targets
      .filter((t) => isRequester || t.agency_id === m.targetAgencyId)
      .map((t) => ({ agencyId: t.agency_id, status: t.status, deadline: t.deadline.toISOString() })),
    ...(agencyId ? { about: { agencyId } } : {}),
    href: `/v1/information-requests/${r.id}`,
  };
}

/** Builds a workflow notice from what is stored now (no policy decision: it carries no record data). */
export async function buildWorkflowNotice(
  deps: BuildDeps,
  db: PoolClient,
  m: OutboxMessage & { kind: WorkflowNoticeKind },
): Promise<BuiltMessage> {
  const { rows } = await db.query<{ agency_type: string }>('SELECT agency_type FROM agencies WHERE id = $1', [m.targetAgencyId]);
  const type = rows[0]?.agency_type;
  const recipient = { agencyId: m.targetAgencyId, agencyType: isAgencyType(type) ? type : null, role: null };
  const base = { recipient, rules: [WORKFLOW_NOTICE_RULE], policyVersion: deps.engine.version, subject: null, sources: [] };
  if (!rows[0]) return { ...base, outcome: 'deny', rules: [], refusal: 'recipient_unknown' };
  const body = m.kind === 'referral_decided' || m.kind === 'referral_overdue' ? await referralBody(db, m) : await requestBody(db, m);
  if (!body) return { ...base, outcome: 'deny', rules: [], refusal: 'workflow_missing' };
  return { ...base, outcome: 'permit', body };
}
