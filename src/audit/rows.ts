/**
 * The audit_ledger table's one column list (how a row is written by ./pg-ledger.ts and read back here), and one
 * mapping, shared by the verifier and the queries, so what is verified is exactly what is shown.
 */
import type { JsonValue, LedgerHashInput } from './entry';

/** node-pg returns bigint as a string; everything else as its natural JS type. */
export interface LedgerRow {
  readonly seq: string;
  readonly entry_id: string;
  readonly recorded_at: Date;
  readonly kind: string;
  readonly outcome: string;
  readonly request_id: string;
  readonly agency_id: string | null;
  readonly agency_type: string | null;
  readonly client_id: string | null;
  readonly practitioner: string | null;
  readonly role: string | null;
  readonly issuer: string | null;
  readonly purpose: string | null;
  readonly rules: string[];
  readonly payload: JsonValue;
  readonly prev_hash: string;
  readonly entry_hash: string;
}

export type LedgerColumn = keyof LedgerRow;

/** Every column in table order, with its PostgreSQL type. A column missing here, or not in LedgerRow, does not compile. */
export const LEDGER_COLUMN_TYPES = {
  seq: 'bigint',
  entry_id: 'uuid',
  recorded_at: 'timestamptz',
  kind: 'text',
  outcome: 'text',
  request_id: 'text',
  agency_id: 'text',
  agency_type: 'text',
  client_id: 'text',
  practitioner: 'text',
  role: 'text',
  issuer: 'text',
  purpose: 'text',
  rules: 'text[]',
  payload: 'jsonb',
  prev_hash: 'text',
  entry_hash: 'text',
} as const satisfies Record<LedgerColumn, string>;

const COLUMN_TYPES = LEDGER_COLUMN_TYPES;

export const LEDGER_COLUMN_NAMES = Object.keys(COLUMN_TYPES) as readonly LedgerColumn[];

/** The cast each bound parameter gets in an INSERT (`''` for text). */
export const LEDGER_INSERT_CASTS = Object.fromEntries(
  LEDGER_COLUMN_NAMES.map((c) => [c, COLUMN_TYPES[c] === 'text' ? '' : `::${COLUMN_TYPES[c]}`]),
) as Readonly<Record<LedgerColumn, string>>;

/** The SELECT list that gives a `LedgerRow` (bigint and uuid as text: node-pg would lose precision or shape). */
export const LEDGER_COLUMNS = LEDGER_COLUMN_NAMES.map((c) =>
  COLUMN_TYPES[c] === 'bigint' || COLUMN_TYPES[c] === 'uuid' ? `${c}::text AS ${c}` : c,
).join(', ');

export function seqOf(row: Pick<LedgerRow, 'seq'>): number {
  const seq = Number(row.seq);
  if (!Number.isSafeInteger(seq)) throw new Error(`ledger seq ${row.seq} is beyond the safe integer range`);
  return seq;
}

/** The row as the hash preimage sees it (`entryHash` in ./entry.ts). */
export function toHashInput(row: LedgerRow): LedgerHashInput {
  return {
    seq: seqOf(row),
    entryId: row.entry_id,
    recordedAt: row.recorded_at,
    kind: row.kind,
    outcome: row.outcome,
    requestId: row.request_id,
    agencyId: row.agency_id,
    agencyType: row.agency_type,
    clientId: row.client_id,
    practitioner: row.practitioner,
    role: row.role,
    issuer: row.issuer,
    purpose: row.purpose,
    rules: row.rules,
    payload: row.payload,
    prevHash: row.prev_hash,
  };
}
