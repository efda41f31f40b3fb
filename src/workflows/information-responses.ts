/**
 * Answering a request for information, and the requester's combined picture.
 *
 *   respond   an agency asked answers by RELEASING records of its own (about the subject or a member of the subject's
 *             household) or DECLINES with a reason. Each release is decided by the policy — from the releasing agency
 *             to the requester's agency and role, for the request's purpose, on the fields wanted — and recorded as a
 *             `disclosure` ledger entry (field names, withheld codes, rule ids, hash of what is released). Then an
 *             `information_response` entry, the target's new status, the releases (field names) and
 *             `information_request.answered` to the requester: one transaction, ledger entries committed first.
 *   picture   the requester's one view of everything released, oldest first (a chronology). Each record is decided
 *             AGAIN for the reader (a policy or an agreement may have changed) and only fields both released and
 *             permitted now are sent, after one `disclosure` entry per record has committed.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { contentHash, type AppendedEntry, type JsonObject, type JsonValue } from '../audit/entry';
import type { Principal } from '../auth/principal';
import { actorOf } from '../audit/actor';
import { ConflictError, InvalidInputError, PolicyRefusalError, type InputProblem } from '../errors';
import { inSnapshot, inTransaction } from '../db/tx';
import { findRecord, membershipsAround } from '../records/store';
import { isAgencyType, isRole, type Facts, type Field, type Purpose } from '../vocabulary/vocabulary';
import {
  requestNotFound,
  targetStatus,
  viewFromDb,
  type InformationRequestDeps,
  type InformationRequestView,
} from './information-requests';
import { judgementAudit, judgementView, judgeRecord, type Judgement } from './judge';
import { queueNotice } from './notices';

export type ResponseInput =
  | { readonly answer: 'release'; readonly records: ReadonlyArray<{ readonly recordId: string; readonly fields?: readonly Field[] }> }
  | { readonly answer: 'decline'; readonly reason: string };

export interface ResponseResult {
  readonly informationRequest: InformationRequestView;
  /** What each release shared (field names) and withheld (names and reasons): no values go back to the releaser. */
  readonly releases: ReadonlyArray<{
    readonly recordId: string;
    readonly decision: string;
    readonly fieldsReleased: readonly string[];
    readonly withheldFields: ReadonlyArray<{ field: string; code: string; reason: string }>;
    readonly auditEntryId: string;
  }>;
  readonly auditEntryId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface RequestForAnswer {
  id: string;
  requester_agency_id: string;
  requested_by_role: string;
  subject_person_id: string | null;
  purpose: string;
  fields: string[];
  facts: Facts;
  requester_type: string | null;
}

export async function respondToInformationRequest(
  deps: InformationRequestDeps,
  p: Principal,
  id: string,
  input: ResponseInput,
  requestId: string,
): Promise<ResponseResult> {
  if (!UUID.test(id)) throw requestNotFound();
  const now = deps.now?.() ?? new Date();
  return inTransaction(deps.pool, async (client) => {
    const { rows } = await client.query<RequestForAnswer>(
      `SELECT r.id, r.requester_agency_id, r.requested_by_role, r.subject_person_id, r.purpose, r.fields, r.facts, a.agency_type AS requester_type
         FROM information_requests r LEFT JOIN agencies a ON a.id = r.requester_agency_id WHERE r.id = $1`,
      [id],
    );
    const r = rows[0];
    const { rows: targets } = await client.query<{ status: string; deadline: Date }>(
      'SELECT status, deadline FROM information_request_targets WHERE request_id = $1 AND agency_id = $2 FOR UPDATE',
      [id, p.agency.id],
    );
    const target = targets[0];
    if (!r || !target) throw requestNotFound();
    if (target.status !== 'awaiting') throw new ConflictError('already_decided', `Your agency has already ${target.status} this request.`);
    if (!isAgencyType(r.requester_type) || !isRole(r.requested_by_role)) {
      throw new PolicyRefusalError('The agency that asked is no longer in the trust registry, so nothing may be released to it.');
    }
    const purpose = r.purpose as Purpose;
    const late = targetStatus({ status: 'awaiting', deadline: target.deadline }, now) === 'overdue';

    if (input.answer === 'decline') {
      const reason = input.reason.trim();
      if (!reason)
        throw new InvalidInputError('invalid_input', 'Say why your agency declines, in your own words.', {
          errors: [{ pointer: '/reason', detail: 'a reason is required' }],
        });
      const entry = await deps.ledger.append({
        kind: 'information_response',
        outcome: 'declined',
        requestId,
        actor: actorOf(p),
        purpose,
        payload: {
          informationRequestId: deps.pseudonymise(id),
          requesterAgencyId: r.requester_agency_id,
          recordsReleased: 0,
          late,
          reasonHash: contentHash({ reason }),
        },
      });
      await recordTargetResponse(client, { id, requesterAgencyId: r.requester_agency_id }, p, now, entry.entryId, reason);
      return { informationRequest: await viewFromDb(client, p, id, now), releases: [], auditEntryId: entry.entryId };
    }

    // Which records: the releasing agency's own, about the subject or someone in the subject's household.
    const family = new Set<string>();
    if (r.subject_person_id) {
      family.add(r.subject_person_id);
      for (const m of await membershipsAround(client, r.subject_person_id)) family.add(m.personId);
    }
    const problems: InputProblem[] = [];
    const chosen = [];
    const seen = new Set<string>();
    for (const [i, item] of input.records.entries()) {
      const record = UUID.test(item.recordId) ? await findRecord(client, item.recordId) : undefined;
      if (!record || record.owningAgencyId !== p.agency.id)
        problems.push({ pointer: `/records/${i}/recordId`, detail: 'not a record your agency holds' });
      else if (r.subject_person_id && !family.has(record.subjectPersonId))
        problems.push({
          pointer: `/records/${i}/recordId`,
          detail: 'this record is not about the subject of the request or their household',
        });
      else if (seen.has(record.id)) problems.push({ pointer: `/records/${i}/recordId`, detail: 'this record is named twice' });
      else {
        seen.add(record.id);
        chosen.push({ record, fields: item.fields });
      }
    }
    if (problems.length)
      throw new InvalidInputError('invalid_input', `The answer is not valid: ${problems.map((x) => x.detail).join('; ')}.`, {
        errors: problems,
      });

    const to = { agencyId: r.requester_agency_id, agencyType: r.requester_type, role: r.requested_by_role };
    const judged: Judgement[] = [];
    for (const c of chosen) {
      const only = r.fields.filter((f) => !c.fields || c.fields.includes(f as Field));
      judged.push(await judgeRecord(client, deps.engine, c.record, to, purpose, { now, assertedFacts: r.facts, onlyFields: only }));
    }
    const entries: AppendedEntry[] = await Promise.all(
      judged.map((j) =>
        deps.ledger.append({
          kind: 'disclosure',
          outcome: j.decision.decision,
          requestId,
          actor: actorOf(p),
          purpose,
          rules: j.decision.rules,
          payload: {
            view: 'information_request_release',
            informationRequestId: deps.pseudonymise(id),
            ...judgementAudit(j, deps.pseudonymise),
            subject: deps.pseudonymise(j.record.subjectPersonId),
            to: { agencyId: to.agencyId, agencyType: to.agencyType, role: to.role },
            policyVersion: j.decision.policyVersion,
            contentHash: contentHash(j.fields as JsonValue),
          },
        }),
      ),
    );
    const entry = await deps.ledger.append({
      kind: 'information_response',
      outcome: 'answered',
      requestId,
      actor: actorOf(p),
      purpose,
      payload: {
        informationRequestId: deps.pseudonymise(id),
        requesterAgencyId: r.requester_agency_id,
        late,
        recordsReleased: judged.filter((j) => j.decision.permittedFields.length > 0).length,
        disclosureEntries: entries.map((e) => e.entryId),
      },
    });
    for (const [i, j] of judged.entries()) {
      if (j.decision.permittedFields.length === 0) continue;
      await client.query(
        'INSERT INTO information_request_releases (id, request_id, agency_id, record_id, fields_released, ledger_entry_id) VALUES ($1, ' +
          '$2, $3, $4, $5, $6)',
        [randomUUID(), id, p.agency.id, j.record.id, [...j.decision.permittedFields], (entries[i] as AppendedEntry).entryId],
      );
    }
    await recordTargetResponse(client, { id, requesterAgencyId: r.requester_agency_id }, p, now, entry.entryId, null);
    return {
      informationRequest: await viewFromDb(client, p, id, now),
      releases: judged.map((j, i) => ({
        recordId: j.record.id,
        decision: j.decision.decision,
        fieldsReleased: [...j.decision.permittedFields],
        withheldFields: j.decision.withheldFields.map((w) => ({ field: w.field, code: w.code, reason: w.reason })),
        auditEntryId: (entries[i] as AppendedEntry).entryId,
      })),
      auditEntryId: entry.entryId,
    };
  });
}

/**
 * The responding agency's answer on its target row — declined (with its reason) or answered — who gave it and the
 * ledger entry that recorded it, and the requester told through the outbox. Runs in the response's transaction,
 * after that entry has committed.
 */
async function recordTargetResponse(
  client: PoolClient,
  request: { readonly id: string; readonly requesterAgencyId: string },
  p: Principal,
  now: Date,
  entryId: string,
  declineReason: string | null,
): Promise<void> {
  await client.query(
    `UPDATE information_request_targets SET status = $3, decline_reason = $4, responded_at = $5, responded_by_client = $6,
            responded_by_practitioner = $7, responded_by_name = $8, responded_by_role = $9, response_entry_id = $10
      WHERE request_id = $1 AND agency_id = $2`,
    [
      request.id,
      p.agency.id,
      declineReason === null ? 'answered' : 'declined',
      declineReason,
      now.toISOString(),
      p.clientId,
      p.practitioner?.subject ?? null,
      p.practitioner?.name?.slice(0, 200) ?? null,
      p.role,
      entryId,
    ],
  );
  await queueNotice(
    client,
    'information_request_answered',
    [request.requesterAgencyId],
    { informationRequestId: request.id, agencyId: p.agency.id },
    `${request.id}:${p.agency.id}`,
  );
}

export interface Picture {
  readonly informationRequest: InformationRequestView;
  /** Released records, decided again for you, oldest first; each with its audit receipt. */
  readonly items: readonly JsonObject[];
}

/** The requester's combined, policy-filtered picture of every release so far. Only the requesting agency may read it. */
export async function readPicture(deps: InformationRequestDeps, p: Principal, id: string, requestId: string): Promise<Picture> {
  const now = deps.now?.() ?? new Date();
  const gathered = await inSnapshot(deps.pool, async (db) => {
    const view = await viewFromDb(db, p, id, now);
    if (view.yourPart !== 'requester') throw requestNotFound();
    const { rows } = await db.query<{ record_id: string; agency_id: string; fields_released: string[] }>(
      'SELECT record_id, agency_id, fields_released FROM information_request_releases WHERE request_id = $1 ORDER BY created_at, id',
      [id],
    );
    const { rows: req } = await db.query<{ facts: Facts }>('SELECT facts FROM information_requests WHERE id = $1', [id]);
    const judged: Judgement[] = [];
    for (const rel of rows) {
      const record = await findRecord(db, rel.record_id);
      if (!record) continue;
      judged.push(
        await judgeRecord(
          db,
          deps.engine,
          record,
          { agencyId: p.agency.id, agencyType: p.agency.agencyType, role: p.role },
          view.purpose as Purpose,
          { now, assertedFacts: req[0]?.facts ?? {}, onlyFields: rel.fields_released },
        ),
      );
    }
    return { view, judged };
  });
  const entries = await Promise.all(
    gathered.judged.map((j) => {
      const sent = judgementView(j);
      return deps.ledger.append({
        kind: 'disclosure',
        outcome: j.decision.decision,
        requestId,
        actor: actorOf(p),
        purpose: gathered.view.purpose as Purpose,
        rules: j.decision.rules,
        payload: {
          view: 'information_request_picture',
          informationRequestId: deps.pseudonymise(id),
          ...judgementAudit(j, deps.pseudonymise),
          subject: deps.pseudonymise(j.record.subjectPersonId),
          policyVersion: j.decision.policyVersion,
          contentHash: contentHash(sent),
        },
      });
    }),
  );
  const items = gathered.judged
    .map((j, i): JsonObject & { fields: JsonObject; occurredAt?: string } => ({
      ...judgementView(j),
      fields: j.fields,
      ...(j.decision.permittedFields.length > 0 ? { occurredAt: j.record.occurredAt.toISOString() } : {}),
      auditEntryId: (entries[i] as AppendedEntry).entryId,
      receipt: { seq: (entries[i] as AppendedEntry).seq, entryHash: (entries[i] as AppendedEntry).entryHash },
    }))
    .filter((item) => Object.keys(item.fields).length > 0)
    .sort((a, b) => String(a.occurredAt ?? '').localeCompare(String(b.occurredAt ?? '')));
  return { informationRequest: gathered.view, items };
}
