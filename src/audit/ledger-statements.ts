/**
 * What the ledger writer (./pg-ledger.ts) sends: its statements — the head read after the lock, the batch INSERT,
 * the one-statement batch — and the text-array cells its column arrays are made of. No state and no I/O here.
 */
import { LEDGER_COLUMN_TYPES, type LedgerColumn } from './rows';
import type { PreparedEntry } from './entry';

/** pg_advisory_xact_lock key that serialises ledger appenders across processes ("sg-audit" in ASCII). */
export const LEDGER_LOCK_KEY = '7378432305101449588';

/**
 * The head of the chain, read after the lock. recorded_at comes from the database clock (one clock for every process)
 * and never goes backwards in seq.
 */
export const READ_HEAD = `SELECT l.seq::text AS seq, l.entry_hash,
              GREATEST(date_trunc('milliseconds', clock_timestamp()), l.recorded_at) AS now
         FROM (SELECT 1) AS one
         LEFT JOIN LATERAL (SELECT seq, entry_hash, recorded_at FROM audit_ledger ORDER BY seq DESC LIMIT 1) AS l ON true`;

export interface HeadRow {
  readonly seq: string | null;
  readonly entry_hash: string | null;
  readonly now: Date;
}

/** Columns that do not depend on the chain, sent as one text array literal each (their cells are made by `append`). */
export const STATIC_COLUMNS = [
  'entry_id',
  'kind',
  'outcome',
  'request_id',
  'agency_id',
  'agency_type',
  'client_id',
  'practitioner',
  'role',
  'issuer',
  'purpose',
  'rules',
] as const satisfies readonly LedgerColumn[];
/** Made by the flush, once the head is known. entry_mac is not hashed (it authenticates the hash), so it is not a LedgerRow column. */
const CHAIN_COLUMNS = ['prev_hash', 'entry_hash', 'entry_mac'] as const;
type StaticColumn = (typeof STATIC_COLUMNS)[number];
/** Every column of rows.ts is written: a column added there and not here does not compile. */
type Unwritten = Exclude<LedgerColumn, StaticColumn | (typeof CHAIN_COLUMNS)[number] | 'seq' | 'recorded_at' | 'payload'>;
const EVERY_COLUMN_WRITTEN: [Unwritten] extends [never] ? true : Unwritten = true;
void EVERY_COLUMN_WRITTEN;

export function staticCells(e: PreparedEntry): string[] {
  const value: Record<StaticColumn, string | null> = {
    entry_id: e.entryId,
    kind: e.kind,
    outcome: e.outcome,
    request_id: e.requestId,
    agency_id: e.agencyId,
    agency_type: e.agencyType,
    client_id: e.clientId,
    practitioner: e.practitioner,
    role: e.role,
    issuer: e.issuer,
    purpose: e.purpose,
    rules: textArrayLiteral(e.rules),
  };
  return STATIC_COLUMNS.map((c) => cell(value[c]));
}

/**
 * One INSERT for a whole batch, whatever its size: `$1` the first seq, `$2` recorded_at (the same for the batch),
 * `$3` the payloads as one jsonb array, then one text array literal per column. ROWS FROM zips them row by row;
 * rules arrive as array literals and are cast row by row (unnest would flatten a 2-D array). Every column of
 * rows.ts is written (a column missing here is a compile error in LEDGER_COLUMN_TYPES's users, and the test
 * that reads rows back would see it).
 */
export const INSERT_BATCH = (() => {
  const arrays = [...STATIC_COLUMNS, ...CHAIN_COLUMNS];
  const type = (c: (typeof arrays)[number]): string => (c === 'entry_mac' ? 'text' : LEDGER_COLUMN_TYPES[c]);
  const sources = arrays.map((c, i) => `unnest($${i + 4}::${type(c) === 'uuid' ? 'uuid' : 'text'}[])`).join(', ');
  const values = arrays.map((c) => (type(c).endsWith('[]') ? `b.${c}::${type(c)}` : `b.${c}`)).join(', ');
  return `INSERT INTO audit_ledger (seq, recorded_at, payload, ${arrays.join(', ')})
    SELECT $1::bigint + b.ord - 1, $2::timestamptz, b.payload, ${values}
      FROM ROWS FROM (jsonb_array_elements($3::jsonb), ${sources}) WITH ORDINALITY AS b(payload, ${arrays.join(', ')}, ord)`;
})();

/**
 * INSERT_BATCH as ONE autocommit statement that first takes the advisory lock (held until the statement's own
 * transaction commits): appenders in every process still write one at a time. It is sent only by the process that
 * wrote (or has on the wire) the head it chains onto, and it inserts nothing (rowCount 0) unless
 *   - that head is in the ledger, COMMITTED, with the hash the batch chains onto — checked by
 *     audit_ledger_chains_onto (migration LedgerChainsOnto), a VOLATILE function whose query takes its own snapshot
 *     after the lock, so it sees a batch committed while this one waited for the lock (the batch before it on the
 *     wire). A head deleted or rewritten by hand, or a batch before it that did not commit, is not chained onto: the
 *     batch goes the locked way, which reads what is there;
 *   - the batch's time, this process's clock, is within CLOCK_TOLERANCE of the database clock (a process whose clock
 *     is off writes the locked way, on the database clock).
 * An entry another appender committed after that head has taken the batch's first seq or its prev_hash: PRIMARY
 * KEY (seq) and UNIQUE (prev_hash), checked against what is committed, refuse the statement whole (23505).
 * The CTEs run in order — the lock, then the check on the lock's row — and no row is inserted before both.
 */
const CLOCK_TOLERANCE = "interval '1 second'";
export const INSERT_ON_KNOWN_HEAD = `WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(${LEDGER_LOCK_KEY})),
       head AS MATERIALIZED (SELECT audit_ledger_chains_onto($1::bigint - 1, ($${4 + STATIC_COLUMNS.length}::text[])[1]) AS known FROM lock)
  ${INSERT_BATCH.replace('FROM ROWS FROM', 'FROM head, ROWS FROM')}
     WHERE head.known
       AND $2::timestamptz BETWEEN clock_timestamp() - ${CLOCK_TOLERANCE} AND clock_timestamp() + ${CLOCK_TOLERANCE}`;
if (!INSERT_ON_KNOWN_HEAD.includes('FROM head, ROWS FROM')) throw new Error('INSERT_ON_KNOWN_HEAD could not be made');

/**
 * The two batch INSERTs as named statements: PostgreSQL parses and plans each once per connection (the first time
 * that connection sends it), then only binds and executes it. At the gateway's usual dozen entries a batch, parsing
 * and planning this statement again for every batch was a large share of PostgreSQL's work per entry.
 */
export const INSERT_BATCH_NAME = 'safeguard-audit-insert-batch-v1';
export const INSERT_ON_KNOWN_HEAD_NAME = 'safeguard-audit-insert-on-known-head-v1';

/** An element of a PostgreSQL array literal: NULL, or the text double-quoted with backslash and quote escaped. */
function cell(value: string | null): string {
  if (value === null) return 'NULL';
  return /["\\]/.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}

/** A PostgreSQL text[] literal. */
function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map(cell).join(',')}}`;
}
