/**
 * How a stored ledger row is read back: one column list and one mapping, shared by the verifier and the queries,
 * so what is verified is exactly what is shown.
 */
import type { JsonValue, LedgerHashInput } from './ledger';

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

export const LEDGER_COLUMNS =
  'seq::text AS seq, entry_id::text AS entry_id, recorded_at, kind, outcome, request_id, agency_id, agency_type, ' +
  'client_id, practitioner, role, issuer, purpose, rules, payload, prev_hash, entry_hash';

export function seqOf(row: Pick<LedgerRow, 'seq'>): number {
  const seq = Number(row.seq);
  if (!Number.isSafeInteger(seq)) throw new Error(`ledger seq ${row.seq} is beyond the safe integer range`);
  return seq;
}

/** The row as the hash preimage sees it (`entryHash` in ./ledger.ts). */
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

