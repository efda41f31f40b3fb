/**
 * Access notices: an agency that subscribes to `record.disclosed` is told whenever a record it holds is disclosed to
 * another agency — who (agency, type, role), for what purpose, which fields by NAME — through the same outbox and
 * webhook path as every other message.
 *
 * Where they come from: the audit ledger itself, not a hook in the disclosure path. Every disclosure is already a
 * committed ledger entry before anything is sent (src/records/disclose.ts: one `disclosure` entry per record; a
 * notification or alert: its `notification` / `alert` entry with `disclosures`). This reader walks the ledger in
 * `seq` order from a cursor and queues the notices, advancing the cursor IN THE SAME TRANSACTION as the outbox rows:
 * every disclosure gets its notice exactly once, even across crashes, and the disclosure path needs no second write
 * that could fail after the ledger committed. (Ledger entries become visible in seq order — appenders hold the ledger
 * lock until COMMIT — so reading `seq > cursor` misses nothing.) Several processes may run it: the cursor row is
 * locked with SKIP LOCKED, so one reads while the others move on.
 *
 * The ledger names the record (and household) only by its pseudonym: the notice names it again by its id, found by
 * that pseudonym in the agency's own records (`ledger_ref`, ../records/ledger-refs.ts), never kept in the ledger.
 *
 * Not notified: an agency reading its own record back (`access: own_record`), a disclosure with no field disclosed,
 * and access notices themselves. A subscription hears of disclosures recorded after it was created.
 */
import type { Pool } from 'pg';
import type { JsonObject } from '../audit/entry';
import type { AuditKind } from '../audit/kinds';
import type { Pseudonymiser } from '../audit/pseudonym';
import { inTransaction, type Db } from '../db/tx';
import { fillLedgerRefs, idsOfLedgerRefs, isPseudonym } from '../records/ledger-refs';
import { EVENT_OF_KIND } from './events';
import { enqueue, type NewOutboxMessage } from './outbox';

export const ACCESS_NOTICE_CURSOR = 'access_notices';

interface LedgerRow {
  seq: string;
  entry_id: string;
  recorded_at: Date;
  kind: string;
  agency_id: string | null;
  agency_type: string | null;
  role: string | null;
  purpose: string | null;
  payload: unknown;
}

export interface Notice {
  readonly entryId: string;
  readonly seq: number;
  readonly recordedAt: Date;
  readonly owningAgencyId: string;
  readonly recordId: string | null;
  readonly householdId: string | null;
  readonly disclosedTo: { readonly agencyId: string | null; readonly agencyType: string | null; readonly role: string | null };
  readonly purpose: string | null;
  readonly fields: readonly string[];
  readonly via: 'request' | 'notification' | 'alert';
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const names = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The kinds of entry that can call for a notice: every other entry's payload is not even read (`enqueueAccessNotices`). */
export const NOTICE_KINDS = ['disclosure', 'notification', 'alert'] as const satisfies readonly AuditKind[];

/** The notices one ledger entry calls for (pure). */
export function noticesOf(row: LedgerRow): Notice[] {
  const payload = obj(row.payload);
  if (!payload) return [];
  const base = { entryId: row.entry_id, seq: Number(row.seq), recordedAt: row.recorded_at, purpose: row.purpose };
  if (row.kind === 'disclosure') {
    const owner = text(payload.owningAgencyId);
    const fields = names(payload.fieldsDisclosed);
    if (payload.access !== 'policy' || !owner || fields.length === 0 || owner === row.agency_id) return [];
    const to = obj(payload.to);
    return [
      {
        ...base,
        owningAgencyId: owner,
        recordId: text(payload.recordId),
        householdId: null,
        disclosedTo: { agencyId: row.agency_id, agencyType: text(to?.agencyType) ?? row.agency_type, role: text(to?.role) },
        fields,
        via: 'request',
      },
    ];
  }
  if ((row.kind === 'notification' || row.kind === 'alert') && payload.sent === true && Array.isArray(payload.disclosures)) {
    const to = obj(payload.to);
    const recipient = { agencyId: text(to?.agencyId), agencyType: text(to?.agencyType), role: text(to?.role) };
    return payload.disclosures.flatMap((d): Notice[] => {
      const item = obj(d);
      const owner = text(item?.owningAgencyId);
      const fields = names(item?.fieldsDisclosed);
      if (!item || !owner || fields.length === 0 || owner === recipient.agencyId) return [];
      return [
        {
          ...base,
          owningAgencyId: owner,
          recordId: text(item.recordId),
          householdId: text(item.householdId),
          disclosedTo: recipient,
          fields,
          via: row.kind === 'alert' ? 'alert' : 'notification',
        },
      ];
    });
  }
  return [];
}

/**
 * Notices name the agency's record and household by id: the ledger's pseudonyms are turned back into the ids of the
 * owner's own rows (a ref the owner does not hold names nothing: null). Entries written before the ledger kept
 * pseudonyms hold the id itself, which is kept.
 */
async function withIds(db: Db, pseudonymise: Pseudonymiser, notices: readonly Notice[]): Promise<Notice[]> {
  const refs = (key: 'recordId' | 'householdId'): string[] =>
    notices.map((n) => n[key]).filter((v): v is string => v !== null && isPseudonym(v));
  const recordRefs = refs('recordId');
  const householdRefs = refs('householdId');
  if (recordRefs.length === 0 && householdRefs.length === 0) return [...notices];
  const owners = [...new Set(notices.map((n) => n.owningAgencyId))];
  await fillLedgerRefs(db, pseudonymise, owners);
  const records = await idsOfLedgerRefs(db, 'records', recordRefs, owners);
  const households = await idsOfLedgerRefs(db, 'households', householdRefs, owners);
  const idOf = (v: string | null, ids: ReadonlyMap<string, string>): string | null =>
    v !== null && isPseudonym(v) ? (ids.get(v) ?? null) : v;
  return notices.map((n) => ({ ...n, recordId: idOf(n.recordId, records), householdId: idOf(n.householdId, households) }));
}

/**
 * Reads up to `batchSize` ledger entries after the cursor and queues their notices. Returns how many entries were
 * read and notices queued, or null when another process holds the cursor.
 */
export async function enqueueAccessNotices(
  pool: Pool,
  pseudonymise: Pseudonymiser,
  batchSize = 500,
): Promise<{ readonly read: number; readonly queued: number } | null> {
  return inTransaction(pool, async (client) => {
    const cursor = await client.query<{ last_seq: string }>('SELECT last_seq FROM outbox_cursors WHERE name = $1 FOR UPDATE SKIP LOCKED', [
      ACCESS_NOTICE_CURSOR,
    ]);
    const last = cursor.rows[0];
    if (!last) return null;
    // The next `batchSize` entries after the cursor, of which only those that can call for a notice come back, and
    // the last one (the cursor moves past it), with how many there were: most entries are decisions, whose rows and
    // payloads would be sent and parsed here for nothing.
    const { rows } = await client.query<LedgerRow & { scanned: number }>(
      `SELECT seq::text AS seq, entry_id, recorded_at, kind, agency_id, agency_type, role, purpose,
              CASE WHEN kind = ANY ($3::text[]) THEN payload END AS payload, scanned::int AS scanned
         FROM (SELECT w.*, max(w.seq) OVER () AS last, count(*) OVER () AS scanned
                 FROM (SELECT seq, entry_id, recorded_at, kind, agency_id, agency_type, role, purpose, payload
                         FROM audit_ledger WHERE seq > $1 ORDER BY seq LIMIT $2) AS w) AS window_rows
        WHERE kind = ANY ($3::text[]) OR seq = last
        ORDER BY seq`,
      [last.last_seq, batchSize, NOTICE_KINDS],
    );
    const lastRow = rows[rows.length - 1];
    if (!lastRow) return { read: 0, queued: 0 };
    let queued = 0;
    const found = rows.flatMap(noticesOf);
    if (found.length > 0) {
      const notices = await withIds(client, pseudonymise, found);
      const owners = [...new Set(notices.map((n) => n.owningAgencyId))];
      const { rows: subscriptions } = await client.query<{ id: string; agency_id: string; created_at: Date }>(
        `SELECT id, agency_id, created_at FROM webhook_subscriptions
          WHERE agency_id = ANY($1::text[]) AND removed_at IS NULL AND $2 = ANY (events)`,
        [owners, EVENT_OF_KIND.access_notice],
      );
      const messages: NewOutboxMessage[] = [];
      for (const n of notices) {
        for (const s of subscriptions) {
          if (s.agency_id !== n.owningAgencyId || s.created_at.getTime() > n.recordedAt.getTime()) continue;
          const payload: JsonObject = {
            ledgerEntryId: n.entryId,
            ledgerSeq: n.seq,
            recordId: n.recordId,
            householdId: n.householdId,
            disclosedAt: n.recordedAt.toISOString(),
            disclosedTo: { ...n.disclosedTo },
            purpose: n.purpose,
            fields: [...n.fields],
            via: n.via,
          };
          messages.push({
            kind: 'access_notice',
            targetAgencyId: s.agency_id,
            subscriptionId: s.id,
            payload,
            dedupeKey: `access_notice:${n.entryId}:${n.recordId ?? n.householdId ?? '-'}:${s.id}`,
          });
        }
      }
      queued = await enqueue(client, messages);
    }
    await client.query('UPDATE outbox_cursors SET last_seq = $2, updated_at = now() WHERE name = $1', [ACCESS_NOTICE_CURSOR, lastRow.seq]);
    return { read: lastRow.scanned, queued };
  });
}
