/**
 * The ledger names a record or a household only by its pseudonym (`pseudonymise(id)`, the keyed hash subject
 * references get: src/audit/pseudonym.ts), never by its id. The records store keeps each row's pseudonym beside it
 * (`ledger_ref`, migrations/1796162200000-LedgerRefs.ts), so that what the gateway tells an agency about its own
 * records (access notices) can name the record again, without the ledger ever holding the id.
 *
 * Rows get their ref here, lazily and idempotently (the same id always gives the same ref): before access notices
 * are matched, for the agencies they concern. Nothing on the request path waits for it.
 */
import type { Db } from '../db/tx';
import type { Pseudonymiser } from '../audit/pseudonym';

const PSEUDONYM = /^hmac-sha256:[0-9a-f]{64}$/;
const FILL_BATCH = 5000;

/** Whether a payload value is a pseudonym (new entries) rather than an id in clear (entries written before). */
export const isPseudonym = (v: string): boolean => PSEUDONYM.test(v);

/** Gives every record and household of these agencies that has no ledger ref yet its ref. Returns how many. */
export async function fillLedgerRefs(db: Db, pseudonymise: Pseudonymiser, agencyIds: readonly string[]): Promise<number> {
  if (agencyIds.length === 0) return 0;
  let filled = 0;
  for (const table of ['records', 'households'] as const) {
    for (;;) {
      const { rows } = await db.query<{ id: string }>(
        `SELECT id::text AS id FROM ${table} WHERE ledger_ref IS NULL AND owning_agency_id = ANY($1::text[]) LIMIT ${FILL_BATCH}`,
        [[...agencyIds]],
      );
      if (rows.length === 0) break;
      await db.query(
        `UPDATE ${table} t SET ledger_ref = u.ref FROM unnest($1::uuid[], $2::text[]) AS u(id, ref) WHERE t.id = u.id AND t.ledger_ref IS NULL`,
        [rows.map((r) => r.id), rows.map((r) => pseudonymise(r.id))],
      );
      filled += rows.length;
      if (rows.length < FILL_BATCH) break;
    }
  }
  return filled;
}

/** The ids behind these refs, for records or households of these agencies (refs it does not know are left out). */
export async function idsOfLedgerRefs(
  db: Db,
  table: 'records' | 'households',
  refs: readonly string[],
  agencyIds: readonly string[],
): Promise<Map<string, string>> {
  if (refs.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; ledger_ref: string }>(
    `SELECT id::text AS id, ledger_ref FROM ${table} WHERE ledger_ref = ANY($1::text[]) AND owning_agency_id = ANY($2::text[])`,
    [[...new Set(refs)], [...agencyIds]],
  );
  return new Map(rows.map((r) => [r.ledger_ref, r.id]));
}
