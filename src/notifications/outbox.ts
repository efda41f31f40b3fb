/**
 * The transactional outbox: what a write CAUSES to be sent is written by the same transaction as the write itself
 * (the `client` passed in), so a record and its notification are never out of step — if the record rolls back, so
 * does its message; if the message cannot be queued, the record is not written either.
 *
 * A row holds ids and field NAMES only (never a value): the message is built when it is delivered, through the
 * sharing policy, and its ledger entry is committed before it is sent (./dispatcher.ts, ./messages.ts).
 * Each cause is queued once per subscription (`dedupe_key`), however often it is written.
 *
 * Hooks called from src/records/contribute.ts, inside the contribution's transaction:
 *
 *   onRecordWritten          Operation Encompass. A POLICE record of kind `incident` about a CHILD, with
 *                            child_present_at_incident true (or children_present > 0 and child_present_at_incident
 *                            not false), is queued for the child's school: the school or early years setting that
 *                            most recently registered or matched the child (person_agency_links — an agency "knows" a
 *                            child once it registered them, e.g. by UPN), if that agency has a webhook for
 *                            `operation_encompass.notification`. Deadline: the start of the next school day after
 *                            the incident (./school-day.ts).
 *   onHouseholdMemberWritten Perpetrator moves. In the household just written to, every CURRENT membership of a person
 *                            recorded as a perpetrator (subject role perpetrator on the membership, on any record or in
 *                            any household) who had no earlier membership of this household, where a child (another
 *                            person, subject role child) lived there on the day they joined, is queued as an alert to
 *                            each children's social care and MASH agency whose `area` is the household's area (case and
 *                            surrounding spaces ignored) and which has a webhook for `household.perpetrator_joined`.
 *                            Evaluated on every membership written to the household, so the order the members are
 *                            recorded in does not matter.
 *
 * Access notices (`record.disclosed`) are queued from the audit ledger itself (./access-notices.ts).
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { Db } from '../db/tx';
import type { JsonObject } from '../audit/entry';
import { englandDate } from '../records/agreements';
import { incidentTime } from '../records/facts';
import type { StoredRecord } from '../records/model';
import { DEFAULT_SCHOOL_CALENDAR, nextSchoolDayStart, type SchoolCalendar } from './school-day';
import { ALERT_RECIPIENTS, ENCOMPASS_RECIPIENT_TYPES, EVENT_OF_KIND, type OutboxKind } from './events';

export interface OutboxSettings {
  readonly schoolCalendar: SchoolCalendar;
}

export const DEFAULT_OUTBOX_SETTINGS: OutboxSettings = { schoolCalendar: DEFAULT_SCHOOL_CALENDAR };

export interface NewOutboxMessage {
  readonly kind: OutboxKind;
  readonly targetAgencyId: string;
  readonly subscriptionId: string;
  /** Ids and field names only. */
  readonly payload: JsonObject;
  readonly dedupeKey: string;
  readonly deadline?: Date;
}

/** Queues messages on the caller's connection (its transaction). Returns how many were new. */
export async function enqueue(client: PoolClient, messages: readonly NewOutboxMessage[]): Promise<number> {
  let added = 0;
  for (const m of messages) {
    const { rowCount } = await client.query(
      `INSERT INTO outbox (id, kind, event, target_agency_id, subscription_id, payload, dedupe_key, deadline)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING`,
      [
        randomUUID(),
        m.kind,
        EVENT_OF_KIND[m.kind],
        m.targetAgencyId,
        m.subscriptionId,
        JSON.stringify(m.payload),
        m.dedupeKey,
        m.deadline?.toISOString() ?? null,
      ],
    );
    added += rowCount ?? 0;
  }
  return added;
}

interface SubscriptionRow {
  id: string;
  agency_id: string;
}

async function subscriptionsOf(client: PoolClient, agencyIds: readonly string[], event: string): Promise<SubscriptionRow[]> {
  if (agencyIds.length === 0) return [];
  const { rows } = await client.query<SubscriptionRow>(
    `SELECT id, agency_id FROM webhook_subscriptions
      WHERE agency_id = ANY($1::text[]) AND removed_at IS NULL AND $2 = ANY (events) ORDER BY created_at, id`,
    [[...new Set(agencyIds)], event],
  );
  return rows;
}

// ─── Operation Encompass ───────────────────────────────────────────────────────────────────────────────────────

/** Does this record call for an Operation Encompass notification (whatever the recipients)? */
/**
 * An incident the police recorded about a child: every child of the household who may be a victim of the abuse is
 * notified — a child who sees, hears or experiences its effects (Domestic Abuse Act 2021 s.3) — whether or not the
 * child was present at this incident (Operation Encompass statutory guidance, November 2025).
 */
export function isEncompassIncident(record: Pick<StoredRecord, 'kind' | 'subjectRole' | 'fields' | 'facts'>): boolean {
  return record.kind === 'incident' && record.subjectRole === 'child';
}

export async function onRecordWritten(
  client: PoolClient,
  record: StoredRecord,
  settings: OutboxSettings = DEFAULT_OUTBOX_SETTINGS,
): Promise<number> {
  if (!isEncompassIncident(record)) return 0;
  const owner = await client.query<{ agency_type: string }>('SELECT agency_type FROM agencies WHERE id = $1', [record.owningAgencyId]);
  if (owner.rows[0]?.agency_type !== 'police') return 0;
  // The child's school: the school or early years setting that most recently registered or matched the child.
  const { rows: schools } = await client.query<{ agency_id: string }>(
    `SELECT l.agency_id FROM person_agency_links l JOIN agencies a ON a.id = l.agency_id
      WHERE l.person_id = $1 AND a.agency_type = ANY($2::text[])
      ORDER BY l.linked_at DESC, l.agency_id LIMIT 1`,
    [record.subjectPersonId, [...ENCOMPASS_RECIPIENT_TYPES]],
  );
  const school = schools[0]?.agency_id;
  if (!school) return 0;
  const subscriptions = await subscriptionsOf(client, [school], EVENT_OF_KIND.operation_encompass);
  if (subscriptions.length === 0) return 0;
  const when = incidentTime(record) ?? record.occurredAt;
  const deadline = nextSchoolDayStart(when, settings.schoolCalendar);
  return enqueue(
    client,
    subscriptions.map((s) => ({
      kind: 'operation_encompass' as const,
      targetAgencyId: s.agency_id,
      subscriptionId: s.id,
      payload: { recordId: record.id, subjectPersonId: record.subjectPersonId, incidentAt: when.toISOString() },
      dedupeKey: `operation_encompass:${record.id}:${s.id}`,
      deadline,
    })),
  );
}

// ─── Perpetrator moves ─────────────────────────────────────────────────────────────────────────────────────────

interface MemberRow {
  id: string;
  person_id: string;
  subject_role: string;
  from_date: string;
  to_date: string | null;
}

export interface PerpetratorJoin {
  readonly membershipId: string;
  readonly personId: string;
  /** YYYY-MM-DD */
  readonly joinedOn: string;
}

const covers = (m: MemberRow, date: string): boolean => m.from_date <= date && (m.to_date === null || date <= m.to_date);

/**
 * The perpetrator joins in a household that call for an alert today (see the file comment). Used when queueing and
 * again when delivering (the fact `perpetrator_joined_household_with_children` is derived, never taken from anyone).
 */
export async function perpetratorJoins(db: Db, householdId: string, today: string): Promise<PerpetratorJoin[]> {
  const { rows: members } = await db.query<MemberRow>(
    `SELECT id, person_id, subject_role, from_date::text AS from_date, to_date::text AS to_date
       FROM household_members WHERE household_id = $1 ORDER BY from_date, id`,
    [householdId],
  );
  if (!members.some((m) => m.subject_role === 'child')) return [];
  const people = [...new Set(members.map((m) => m.person_id))];
  const { rows: recorded } = await db.query<{ person_id: string }>(
    `SELECT subject_person_id AS person_id FROM records WHERE subject_person_id = ANY($1::uuid[]) AND subject_role = 'perpetrator'
     UNION SELECT person_id FROM household_members WHERE person_id = ANY($1::uuid[]) AND subject_role = 'perpetrator'`,
    [people],
  );
  const perpetrators = new Set(recorded.map((r) => r.person_id));
  const joins: PerpetratorJoin[] = [];
  for (const p of members) {
    if (!perpetrators.has(p.person_id)) continue;
    if (p.to_date !== null && p.to_date < today) continue; // moved out again: not a current risk in this household
    const earlier = members.some(
      (m) => m.person_id === p.person_id && m.id !== p.id && (m.from_date < p.from_date || (m.from_date === p.from_date && m.id < p.id)),
    );
    if (earlier) continue; // not a new household for them
    const child = members.some((c) => c.subject_role === 'child' && c.person_id !== p.person_id && covers(c, p.from_date));
    if (child) joins.push({ membershipId: p.id, personId: p.person_id, joinedOn: p.from_date });
  }
  return joins;
}

export async function onHouseholdMemberWritten(client: PoolClient, householdId: string, now: Date = new Date()): Promise<number> {
  const joins = await perpetratorJoins(client, householdId, englandDate(now));
  if (joins.length === 0) return 0;
  const { rows: recipients } = await client.query<{ id: string; agency_type: string }>(
    `SELECT a.id, a.agency_type FROM agencies a JOIN households h ON h.id = $1
      WHERE a.agency_type = ANY($2::text[]) AND a.area IS NOT NULL AND lower(btrim(a.area)) = lower(btrim(h.area))`,
    [householdId, ALERT_RECIPIENTS.map((r) => r.agencyType)],
  );
  const subscriptions = await subscriptionsOf(
    client,
    recipients.map((r) => r.id),
    EVENT_OF_KIND.perpetrator_alert,
  );
  const messages: NewOutboxMessage[] = [];
  for (const j of joins) {
    for (const s of subscriptions) {
      messages.push({
        kind: 'perpetrator_alert',
        targetAgencyId: s.agency_id,
        subscriptionId: s.id,
        payload: { membershipId: j.membershipId, householdId, perpetratorPersonId: j.personId, joinedOn: j.joinedOn },
        dedupeKey: `perpetrator_alert:${j.membershipId}:${s.id}`,
      });
    }
  }
  return enqueue(client, messages);
}
