/**
 * Requests for information: an agency (MASH, children's social care, Cafcass, MARAC) asks several agencies what they
 * hold about one subject, for one purpose, with a priority and a deadline (settings.ts: red / amber / green hours).
 *
 *   create   the subject (a person the requesting agency knows, or a case reference), the agencies asked (trust
 *            registry ids), the fields wanted (vocabulary), facts the requester asserts (never a derived fact).
 *            One transaction: the request and a row per agency asked, an `information_request` ledger entry
 *            (committed before the transaction commits) and `information_request.received` to each agency asked.
 *   Cafcass safeguarding checks (template `cafcass_safeguarding_checks`): purpose `family_court_safeguarding`,
 *            police and local authority (children's social care) agencies of the registry, the fields Cafcass checks,
 *            court proceedings active (asserted by Cafcass with the case number), the deadline the Cafcass agency
 *            configures, and never later than the first hearing.
 *   answer / decline and the requester's combined picture: ./information-responses.ts.
 *   overdue  a sweep flags each agency that has not answered by the deadline (ledger entry, `information_request.overdue`
 *            to the requester and to that agency).
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { AuditLedger } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { Principal } from '../auth/principal';
import { actorOf } from '../audit/actor';
import { InvalidInputError, NotFoundError, NotPermittedError, type InputProblem } from '../errors';
import type { PolicyEngine } from '../policy/types';
import { inTransaction } from '../db/tx';
import { agencyKnowsPerson } from '../records/store';
import { isDerivedFact } from '../records/model';
import type { AgencyType, Facts, Field, Purpose, SubjectRole } from '../vocabulary/vocabulary';
import { queueNotice } from './notices';
import { cafcassChecksDeadline, informationRequestDeadline, type Priority, type WorkflowSettings } from './settings';

export interface InformationRequestDeps {
  readonly pool: Pool;
  readonly ledger: AuditLedger;
  readonly engine: PolicyEngine;
  readonly pseudonymise: Pseudonymiser;
  readonly settings: WorkflowSettings;
  readonly now?: () => Date;
}

/** Agency types that gather information from several agencies at once. */
export const REQUESTER_TYPES: readonly AgencyType[] = ['mash', 'childrens_social_care', 'cafcass', 'marac'];
export const TEMPLATES = ['cafcass_safeguarding_checks'] as const;
export type Template = (typeof TEMPLATES)[number];

export const CAFCASS_CHECKS = {
  purpose: 'family_court_safeguarding' as Purpose,
  agencyTypes: ['police', 'childrens_social_care'] as readonly AgencyType[],
  fields: [
    'name',
    'date_of_birth',
    'incident_date',
    'incident_summary',
    'children_present',
    'child_involvement',
    'offence_type',
    'arrest_made',
    'bail_conditions',
    'previous_incidents_count',
    'previous_domestic_abuse_convictions',
    'restraining_order',
    'dash_risk_level',
    'risk_factors',
    'marac_referral_status',
    'child_protection_plan_status',
    'child_in_need_status',
    'looked_after_status',
    'social_worker_contact',
    'court_orders',
  ] as readonly Field[],
  facts: { court_proceedings_active: true } as Facts,
};

export interface NewInformationRequest {
  readonly subject: { readonly personId?: string; readonly caseReference?: string };
  readonly subjectRole: SubjectRole;
  readonly purpose?: Purpose;
  readonly agencies?: readonly string[];
  readonly fields?: readonly Field[];
  readonly priority?: Priority;
  readonly facts?: Facts;
  readonly template?: Template;
  readonly firstHearingAt?: string;
}

export type TargetStatus = 'awaiting' | 'answered' | 'declined' | 'overdue';

export interface TargetView {
  readonly agencyId: string;
  readonly agencyName: string | null;
  readonly agencyType: string | null;
  readonly status: TargetStatus;
  readonly deadline: string;
  readonly respondedAt: string | null;
  readonly declineReason?: string;
  readonly recordsReleased: number;
}

export interface InformationRequestView {
  readonly id: string;
  readonly requesterAgencyId: string;
  readonly requesterAgencyName: string | null;
  readonly requestedBy: { readonly name: string | null; readonly role: string };
  readonly subject: { readonly personId: string | null; readonly caseReference: string | null; readonly subjectRole: string };
  readonly purpose: string;
  readonly fields: readonly string[];
  readonly facts: Readonly<Record<string, unknown>>;
  readonly priority: Priority;
  readonly template: Template | null;
  readonly firstHearingAt: string | null;
  readonly deadline: string;
  readonly createdAt: string;
  /** complete once every agency asked has answered or declined. */
  readonly status: 'open' | 'complete';
  readonly overdue: boolean;
  /** Whether the caller's agency asked (requester) or was asked. */
  readonly yourPart: 'requester' | 'asked';
  readonly agencies: readonly TargetView[];
  readonly ledgerEntryId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const requestNotFound = (): NotFoundError =>
  new NotFoundError('information_request_not_found', 'No request for information with that id involves your agency.');

export async function createInformationRequest(
  deps: InformationRequestDeps,
  p: Principal,
  input: NewInformationRequest,
  requestId: string,
): Promise<InformationRequestView> {
  const now = deps.now?.() ?? new Date();
  if (!REQUESTER_TYPES.includes(p.agency.agencyType)) {
    throw new NotPermittedError(
      'not_permitted',
      `Requests for information are made by a MASH, children's social care, Cafcass or a MARAC; your agency is ${p.agency.agencyType.replace(/_/g, ' ')}. Ask one of them, or use a decision for a single disclosure.`,
    );
  }
  const problems: InputProblem[] = [];
  const template = input.template;
  if (template === 'cafcass_safeguarding_checks') {
    if (p.agency.agencyType !== 'cafcass')
      throw new NotPermittedError('not_permitted', 'Cafcass safeguarding checks are asked by Cafcass.');
    if (input.purpose && input.purpose !== CAFCASS_CHECKS.purpose)
      problems.push({ pointer: '/purpose', detail: `Cafcass safeguarding checks are for ${CAFCASS_CHECKS.purpose}` });
    if (!input.subject.caseReference)
      problems.push({ pointer: '/subject/caseReference', detail: 'the family court case number is required for safeguarding checks' });
  } else if (!input.purpose) problems.push({ pointer: '/purpose', detail: 'purpose is required' });
  else if (input.purpose === 'audit' || input.purpose === 'subject_access')
    problems.push({ pointer: '/purpose', detail: `${input.purpose} is not a purpose for asking other agencies` });
  if (!template && !input.priority) problems.push({ pointer: '/priority', detail: 'priority is required (red, amber or green)' });
  if (!template && (!input.fields || input.fields.length === 0))
    problems.push({ pointer: '/fields', detail: 'name the fields you need: policies grant fields, never whole records' });
  if (!template && (!input.agencies || input.agencies.length === 0))
    problems.push({ pointer: '/agencies', detail: 'name the agencies you are asking' });
  if (!input.subject.personId && !input.subject.caseReference)
    problems.push({ pointer: '/subject', detail: 'give the person id or the case reference' });
  for (const name of Object.keys(input.facts ?? {})) {
    if (isDerivedFact(name))
      problems.push({ pointer: `/facts/${name}`, word: name, detail: `${name} is worked out by the gateway, never taken from a request` });
  }
  const firstHearingAt = input.firstHearingAt ? new Date(input.firstHearingAt) : undefined;
  if (firstHearingAt && firstHearingAt <= now)
    problems.push({ pointer: '/firstHearingAt', detail: 'the first hearing must be in the future' });
  if (problems.length)
    throw new InvalidInputError('invalid_input', `The request for information is not valid: ${problems.map((x) => x.detail).join('; ')}.`, {
      errors: problems,
    });

  const purpose = template ? CAFCASS_CHECKS.purpose : (input.purpose as Purpose);
  const fields = [...new Set(input.fields && input.fields.length > 0 ? input.fields : CAFCASS_CHECKS.fields)];
  const facts: Facts = { ...(template ? CAFCASS_CHECKS.facts : {}), ...input.facts };
  const priority: Priority = input.priority ?? 'amber';
  const deadline = template
    ? cafcassChecksDeadline(deps.settings, p.agency.id, now, firstHearingAt)
    : informationRequestDeadline(deps.settings, p.agency.id, priority, now);
  const id = randomUUID();

  return inTransaction(deps.pool, async (client) => {
    if (
      input.subject.personId &&
      (!UUID.test(input.subject.personId) || !(await agencyKnowsPerson(client, input.subject.personId, p.agency.id)))
    ) {
      throw new NotFoundError('person_not_found', 'No person with that id is known to your agency.', {
        errors: [{ pointer: '/subject/personId', detail: 'not a person your agency knows' }],
      });
    }
    let agencies = [...new Set(input.agencies ?? [])];
    const { rows: known } =
      template && agencies.length === 0
        ? await client.query<{ id: string; agency_type: string }>(
            'SELECT id, agency_type FROM agencies WHERE agency_type = ANY($1::text[]) ORDER BY id',
            [[...CAFCASS_CHECKS.agencyTypes]],
          )
        : await client.query<{ id: string; agency_type: string }>('SELECT id, agency_type FROM agencies WHERE id = ANY($1::text[])', [
            agencies,
          ]);
    if (template && agencies.length === 0) agencies = known.map((k) => k.id);
    const unknown = agencies.filter((a) => !known.some((k) => k.id === a));
    const bad: InputProblem[] = unknown.map((a) => ({
      pointer: `/agencies/${agencies.indexOf(a)}`,
      word: a.slice(0, 60),
      detail: `"${a.slice(0, 60)}" is not an agency in the trust registry`,
    }));
    if (agencies.includes(p.agency.id))
      bad.push({ pointer: `/agencies/${agencies.indexOf(p.agency.id)}`, detail: 'you cannot ask your own agency' });
    if (template) {
      known
        .filter((k) => !CAFCASS_CHECKS.agencyTypes.includes(k.agency_type as AgencyType))
        .forEach((k) =>
          bad.push({
            pointer: `/agencies/${agencies.indexOf(k.id)}`,
            detail: `safeguarding checks go to the police and the local authority, not ${k.id}`,
          }),
        );
    }
    if (agencies.length === 0) bad.push({ pointer: '/agencies', detail: 'no agency to ask' });
    if (bad.length)
      throw new InvalidInputError('invalid_input', `The request for information is not valid: ${bad.map((x) => x.detail).join('; ')}.`, {
        errors: bad,
      });

    const entry = await deps.ledger.append({
      kind: 'information_request',
      outcome: 'created',
      requestId,
      actor: actorOf(p),
      purpose,
      payload: {
        informationRequestId: deps.pseudonymise(id),
        template: template ?? null,
        priority,
        agenciesAsked: agencies,
        fieldsRequested: fields,
        subject: input.subject.personId ? deps.pseudonymise(input.subject.personId) : deps.pseudonymise(input.subject.caseReference ?? ''),
        subjectRole: input.subjectRole,
        factsAsserted: { ...facts },
        deadline: deadline.toISOString(),
      },
    });
    await client.query(
      `INSERT INTO information_requests (id, requester_agency_id, requested_by_client, requested_by_practitioner, requested_by_name, requested_by_role,
              subject_person_id, case_reference, subject_role, purpose, fields, facts, priority, template, first_hearing_at, deadline, ledger_entry_id, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15, $16, $17, $18)`,
      [
        id,
        p.agency.id,
        p.clientId,
        p.practitioner?.subject ?? null,
        p.practitioner?.name?.slice(0, 200) ?? null,
        p.role,
        input.subject.personId ?? null,
        input.subject.caseReference ?? null,
        input.subjectRole,
        purpose,
        fields,
        JSON.stringify(facts),
        priority,
        template ?? null,
        firstHearingAt?.toISOString() ?? null,
        deadline.toISOString(),
        entry.entryId,
        now.toISOString(),
      ],
    );
    for (const agencyId of agencies) {
      await client.query('INSERT INTO information_request_targets (request_id, agency_id, deadline) VALUES ($1, $2, $3)', [
        id,
        agencyId,
        deadline.toISOString(),
      ]);
      await queueNotice(client, 'information_request_received', [agencyId], { informationRequestId: id, agencyId }, `${id}:${agencyId}`);
    }
    return viewFromDb(client, p, id, now);
  });
}

// ─── Reading ───────────────────────────────────────────────────────────────────────────────────────────────────

interface RequestRow {
  id: string;
  requester_agency_id: string;
  requester_name: string | null;
  requested_by_name: string | null;
  requested_by_role: string;
  subject_person_id: string | null;
  case_reference: string | null;
  subject_role: string;
  purpose: string;
  fields: string[];
  facts: Record<string, unknown>;
  priority: Priority;
  template: Template | null;
  first_hearing_at: Date | null;
  deadline: Date;
  created_at: Date;
  ledger_entry_id: string;
}
interface TargetRow {
  request_id: string;
  agency_id: string;
  name: string | null;
  agency_type: string | null;
  status: 'awaiting' | 'answered' | 'declined';
  deadline: Date;
  responded_at: Date | null;
  decline_reason: string | null;
  released: string;
}

const REQUEST_COLUMNS = `r.id, r.requester_agency_id, (SELECT a.name FROM agencies a WHERE a.id = r.requester_agency_id) AS requester_name, r.requested_by_name, r.requested_by_role, r.subject_person_id, r.case_reference, r.subject_role,
  r.purpose, r.fields, r.facts, r.priority, r.template, r.first_hearing_at, r.deadline, r.created_at, r.ledger_entry_id`;

type Queryable = Pick<Pool, 'query'>;

async function targetsOf(db: Queryable, ids: readonly string[]): Promise<TargetRow[]> {
  const { rows } = await db.query<TargetRow>(
    `SELECT t.request_id, t.agency_id, a.name, a.agency_type, t.status, t.deadline, t.responded_at, t.decline_reason,
            (SELECT count(*) FROM information_request_releases x WHERE x.request_id = t.request_id AND x.agency_id = t.agency_id)::text AS released
       FROM information_request_targets t LEFT JOIN agencies a ON a.id = t.agency_id
      WHERE t.request_id = ANY($1::uuid[]) ORDER BY t.agency_id`,
    [[...ids]],
  );
  return rows;
}

export function targetStatus(t: Pick<TargetRow, 'status' | 'deadline'>, now: Date): TargetStatus {
  return t.status === 'awaiting' && t.deadline < now ? 'overdue' : t.status;
}

function viewOf(r: RequestRow, targets: readonly TargetRow[], p: Principal, now: Date): InformationRequestView {
  const requester = r.requester_agency_id === p.agency.id;
  const visible = targets.filter((t) => t.request_id === r.id && (requester || t.agency_id === p.agency.id));
  const all = targets.filter((t) => t.request_id === r.id);
  return {
    id: r.id,
    requesterAgencyId: r.requester_agency_id,
    requesterAgencyName: r.requester_name,
    requestedBy: { name: r.requested_by_name, role: r.requested_by_role },
    subject: { personId: r.subject_person_id, caseReference: r.case_reference, subjectRole: r.subject_role },
    purpose: r.purpose,
    fields: r.fields,
    facts: r.facts,
    priority: r.priority,
    template: r.template,
    firstHearingAt: r.first_hearing_at?.toISOString() ?? null,
    deadline: r.deadline.toISOString(),
    createdAt: r.created_at.toISOString(),
    status: all.every((t) => t.status !== 'awaiting') ? 'complete' : 'open',
    overdue: visible.some((t) => targetStatus(t, now) === 'overdue'),
    yourPart: requester ? 'requester' : 'asked',
    agencies: visible.map((t) => ({
      agencyId: t.agency_id,
      agencyName: t.name,
      agencyType: t.agency_type,
      status: targetStatus(t, now),
      deadline: t.deadline.toISOString(),
      respondedAt: t.responded_at?.toISOString() ?? null,
      ...(t.decline_reason ? { declineReason: t.decline_reason } : {}),
      recordsReleased: Number(t.released),
    })),
    ledgerEntryId: r.ledger_entry_id,
  };
}

/** The request as the caller may see it: the requester sees every agency asked, an agency asked only itself. Else 404. */
export async function viewFromDb(db: Queryable, p: Principal, id: string, now: Date): Promise<InformationRequestView> {
  if (!UUID.test(id)) throw requestNotFound();
  const { rows } = await db.query<RequestRow>(`SELECT ${REQUEST_COLUMNS} FROM information_requests r WHERE r.id = $1`, [id]);
  const r = rows[0];
  if (!r) throw requestNotFound();
  const targets = await targetsOf(db, [id]);
  if (r.requester_agency_id !== p.agency.id && !targets.some((t) => t.agency_id === p.agency.id)) throw requestNotFound();
  return viewOf(r, targets, p, now);
}

export async function getInformationRequest(
  deps: Pick<InformationRequestDeps, 'pool' | 'now'>,
  p: Principal,
  id: string,
): Promise<InformationRequestView> {
  return viewFromDb(deps.pool, p, id, deps.now?.() ?? new Date());
}

export type InformationRequestBox = 'asked_by_me' | 'asked_of_me';
export interface InformationRequestQuery {
  readonly view?: InformationRequestBox;
  readonly status?: TargetStatus;
  readonly limit?: number;
}

/** Requests my agency made (asked_by_me), or my agency's inbox (asked_of_me, the default). */
export async function listInformationRequests(
  deps: Pick<InformationRequestDeps, 'pool' | 'now'>,
  p: Principal,
  q: InformationRequestQuery,
): Promise<{ view: InformationRequestBox; informationRequests: InformationRequestView[] }> {
  const now = deps.now?.() ?? new Date();
  const view: InformationRequestBox = q.view ?? 'asked_of_me';
  const limit = Math.min(q.limit ?? 100, 200);
  const { rows } =
    view === 'asked_by_me'
      ? await deps.pool.query<RequestRow>(
          `SELECT ${REQUEST_COLUMNS} FROM information_requests r WHERE r.requester_agency_id = $1 ORDER BY r.created_at DESC, r.id LIMIT ${limit}`,
          [p.agency.id],
        )
      : await deps.pool.query<RequestRow>(
          `SELECT ${REQUEST_COLUMNS} FROM information_requests r JOIN information_request_targets t ON t.request_id = r.id AND t.agency_id = $1
          ORDER BY (t.status = 'awaiting') DESC, t.deadline, r.id LIMIT ${limit}`,
          [p.agency.id],
        );
  const targets = await targetsOf(
    deps.pool,
    rows.map((r) => r.id),
  );
  let views = rows.map((r) => viewOf(r, targets, p, now));
  if (q.status) {
    views = views.filter((v) =>
      view === 'asked_of_me'
        ? v.agencies.some((a) => a.agencyId === p.agency.id && a.status === q.status)
        : v.agencies.some((a) => a.status === q.status),
    );
  }
  return { view, informationRequests: views };
}

// ─── Overdue ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Flags every agency asked that has not answered by the deadline: a ledger entry each, then `information_request.overdue`. */
export async function flagOverdueInformationRequests(
  deps: Pick<InformationRequestDeps, 'pool' | 'ledger' | 'pseudonymise' | 'now'>,
  requestId: string = randomUUID(),
): Promise<number> {
  const now = deps.now?.() ?? new Date();
  return inTransaction(deps.pool, async (client) => {
    const { rows } = await client.query<{
      request_id: string;
      agency_id: string;
      deadline: Date;
      requester_agency_id: string;
      purpose: string;
    }>(
      `SELECT t.request_id, t.agency_id, t.deadline, r.requester_agency_id, r.purpose
         FROM information_request_targets t JOIN information_requests r ON r.id = t.request_id
        WHERE t.status = 'awaiting' AND t.overdue_flagged_at IS NULL AND t.deadline < $1
        ORDER BY t.deadline, t.request_id, t.agency_id LIMIT 100 FOR UPDATE OF t SKIP LOCKED`,
      [now.toISOString()],
    );
    for (const t of rows) {
      await deps.ledger.append({
        kind: 'information_request',
        outcome: 'overdue',
        requestId,
        actor: null,
        purpose: t.purpose as Purpose,
        payload: {
          informationRequestId: deps.pseudonymise(t.request_id),
          agencyId: t.agency_id,
          requesterAgencyId: t.requester_agency_id,
          deadline: t.deadline.toISOString(),
        },
      });
      await client.query('UPDATE information_request_targets SET overdue_flagged_at = $3 WHERE request_id = $1 AND agency_id = $2', [
        t.request_id,
        t.agency_id,
        now.toISOString(),
      ]);
      await queueNotice(
        client,
        'information_request_overdue',
        [t.requester_agency_id, t.agency_id],
        { informationRequestId: t.request_id, agencyId: t.agency_id },
        `${t.request_id}:${t.agency_id}`,
      );
    }
    return rows.length;
  });
}
