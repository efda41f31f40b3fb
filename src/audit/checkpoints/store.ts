/**
 * Reading checkpoints and ledger entries from the database (keyset-paged, bounded windows).
 */
import type { Pool } from 'pg';
import type { Db } from '../../db/tx';
import { LEDGER_COLUMNS, seqOf, type LedgerRow } from '../rows';
import type { CheckpointRecord } from './statement';

interface CheckpointRow {
  readonly tree_size: string;
  readonly root_hash: string;
  readonly last_entry_hash: string;
  readonly signed_at: Date;
  readonly jws: string;
  readonly kid: string;
  readonly prev_tree_size: string | null;
  readonly consistency_proof: string[];
  readonly note: string | null;
  readonly compact_range: string[] | null;
}

const CHECKPOINT_COLUMNS =
  'tree_size::text AS tree_size, root_hash, last_entry_hash, signed_at, jws, kid, prev_tree_size::text AS prev_tree_size, ' +
  'consistency_proof, note, compact_range';

function toRecord(row: CheckpointRow): CheckpointRecord {
  return {
    treeSize: Number(row.tree_size),
    rootHash: row.root_hash,
    lastEntryHash: row.last_entry_hash,
    signedAt: row.signed_at.toISOString(),
    kid: row.kid,
    jws: row.jws,
    consistency: row.prev_tree_size === null ? null : { fromTreeSize: Number(row.prev_tree_size), proof: row.consistency_proof },
    note: row.note,
    compactRange: row.compact_range,
  };
}

export async function rowsOf<T extends object>(db: Db, sql: string, params: unknown[]): Promise<T[]> {
  // Both pg overloads return the same shape; one call site keeps the union callable.
  const result = await (db as Pick<Pool, 'query'>).query<T & Record<string, unknown>>(sql, params);
  return result.rows;
}

export async function latestCheckpoint(db: Db): Promise<CheckpointRecord | null> {
  const [row] = await rowsOf<CheckpointRow>(
    db,
    `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY ledger_checkpoints.tree_size DESC LIMIT 1`,
    [],
  );
  return row ? toRecord(row) : null;
}

export async function checkpointAt(db: Db, treeSize: number): Promise<CheckpointRecord | null> {
  const [row] = await rowsOf<CheckpointRow>(db, `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size = $1::bigint`, [
    String(treeSize),
  ]);
  return row ? toRecord(row) : null;
}

/** The smallest checkpoint covering `treeSize` entries or more, or null. */
export async function checkpointCovering(db: Db, treeSize: number): Promise<CheckpointRecord | null> {
  const [row] = await rowsOf<CheckpointRow>(
    db,
    `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size >= $1::bigint ORDER BY ledger_checkpoints.tree_size LIMIT 1`,
    [String(treeSize)],
  );
  return row ? toRecord(row) : null;
}

/** Checkpoints newest first, keyset-paged by tree size (`before`: only those smaller). */
export async function listCheckpoints(db: Db, page: { before?: number; limit: number }): Promise<CheckpointRecord[]> {
  const rows =
    page.before === undefined
      ? await rowsOf<CheckpointRow>(
          db,
          `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY ledger_checkpoints.tree_size DESC LIMIT $1`,
          [page.limit],
        )
      : await rowsOf<CheckpointRow>(
          db,
          `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size < $1::bigint ORDER BY ledger_checkpoints.tree_size DESC LIMIT $2`,
          [String(page.before), page.limit],
        );
  return rows.map(toRecord);
}

/** Checkpoints oldest first with tree_size > after, keyset-paged. */
export async function checkpointsAfter(db: Db, after: number, limit: number): Promise<CheckpointRecord[]> {
  const rows = await rowsOf<CheckpointRow>(
    db,
    `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size > $1::bigint ORDER BY ledger_checkpoints.tree_size LIMIT $2`,
    [String(after), limit],
  );
  return rows.map(toRecord);
}

export interface Leaf {
  readonly seq: number;
  readonly entryHash: string;
}

/**
 * Entries with afterSeq < seq <= toSeq, ascending, read in windows of `batchSize` seqs: each query asks for one
 * bounded seq range (an index range of at most batchSize rows), never "everything after x", which the planner may
 * answer by sorting the whole remainder. Gaps are the caller's to see.
 */
async function* windows<T>(db: Db, sql: string, afterSeq: number, toSeq: number, batchSize: number): AsyncGenerator<T> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  for (let after = afterSeq; after < toSeq;) {
    const to = Math.min(toSeq, after + batchSize);
    yield* await rowsOf<T & object>(db, sql, [String(after), String(to)]);
    after = to;
  }
}

/** Leaves (seq, entry_hash) of the entries with afterSeq < seq <= toSeq, ascending. */
export async function* ledgerLeaves(db: Db, afterSeq: number, toSeq: number, batchSize: number): AsyncGenerator<Leaf> {
  const sql =
    'SELECT seq::text AS seq, entry_hash FROM audit_ledger WHERE seq > $1::bigint AND seq <= $2::bigint ORDER BY audit_ledger.seq';
  for await (const r of windows<{ seq: string; entry_hash: string }>(db, sql, afterSeq, toSeq, batchSize))
    yield { seq: seqOf(r), entryHash: r.entry_hash };
}

/** Whole rows of the entries with afterSeq < seq <= toSeq, ascending. */
export function ledgerRows(db: Db, afterSeq: number, toSeq: number, batchSize: number): AsyncGenerator<LedgerRow> {
  const sql = `SELECT ${LEDGER_COLUMNS} FROM audit_ledger WHERE seq > $1::bigint AND seq <= $2::bigint ORDER BY audit_ledger.seq`;
  return windows<LedgerRow>(db, sql, afterSeq, toSeq, batchSize);
}

export async function lastSeqIn(db: Db): Promise<number> {
  const [row] = await rowsOf<{ max: string | null }>(db, 'SELECT max(seq)::text AS max FROM audit_ledger', []);
  return row?.max ? Number(row.max) : 0;
}

/** Whole rows with their entry_mac, afterSeq < seq <= toSeq, ascending (the sealer checks each MAC). */
export function ledgerRowsWithMac(
  db: Db,
  afterSeq: number,
  toSeq: number,
  batchSize: number,
): AsyncGenerator<LedgerRow & { entry_mac: string | null }> {
  const sql = `SELECT ${LEDGER_COLUMNS}, entry_mac FROM audit_ledger WHERE seq > $1::bigint AND seq <= $2::bigint ORDER BY audit_ledger.seq`;
  return windows<LedgerRow & { entry_mac: string | null }>(db, sql, afterSeq, toSeq, batchSize);
}

/** Entries after this seq must carry an entry MAC (0 for a ledger created with MACs). */
export async function macStartSeq(db: Db): Promise<number> {
  const [row] = await rowsOf<{ from_seq: string }>(db, 'SELECT max(from_seq)::text AS from_seq FROM ledger_mac_start', []);
  return row?.from_seq ? Number(row.from_seq) : 0;
}

export interface CosignatureRow {
  readonly treeSize: number;
  readonly witness: string;
  readonly cosignature: string;
}

/** The cosignature lines held for a checkpoint. */
export async function cosignaturesFor(db: Db, treeSize: number): Promise<CosignatureRow[]> {
  const rows = await rowsOf<{ witness: string; cosignature: string }>(
    db,
    'SELECT witness, cosignature FROM ledger_cosignatures WHERE tree_size = $1::bigint ORDER BY witness',
    [String(treeSize)],
  );
  return rows.map((r) => ({ treeSize, witness: r.witness, cosignature: r.cosignature }));
}

/** The largest tree size a witness has cosigned (per the database), or 0. */
export async function lastCosignedBy(db: Db, witness: string): Promise<number> {
  const [row] = await rowsOf<{ max: string | null }>(db, 'SELECT max(tree_size)::text AS max FROM ledger_cosignatures WHERE witness = $1', [
    witness,
  ]);
  return row?.max ? Number(row.max) : 0;
}

export async function insertCosignature(db: Db, row: CosignatureRow): Promise<void> {
  await rowsOf(db, 'INSERT INTO ledger_cosignatures (tree_size, witness, cosignature) VALUES ($1::bigint, $2, $3) ON CONFLICT DO NOTHING', [
    String(row.treeSize),
    row.witness,
    row.cosignature,
  ]);
}

/** The newest checkpoint with at least `quorum` cosignatures (any witness), or null. */
export async function latestCosignedCheckpoint(db: Db, quorum: number): Promise<CheckpointRecord | null> {
  const [row] = await rowsOf<CheckpointRow>(
    db,
    `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints
      WHERE note IS NOT NULL AND (SELECT count(*) FROM ledger_cosignatures c WHERE c.tree_size = ledger_checkpoints.tree_size) >= $1
      ORDER BY ledger_checkpoints.tree_size DESC LIMIT 1`,
    [quorum],
  );
  return row ? toRecord(row) : null;
}

/** Cosignature lines of the checkpoints with after < tree_size <= to, by tree size. */
export async function cosignaturesBetween(db: Db, after: number, to: number): Promise<Map<number, string[]>> {
  const rows = await rowsOf<{ tree_size: string; cosignature: string }>(
    db,
    'SELECT tree_size::text AS tree_size, cosignature FROM ledger_cosignatures WHERE tree_size > $1::bigint AND tree_size <= $2::bigint ' +
      'ORDER BY tree_size, witness',
    [String(after), String(to)],
  );
  const out = new Map<number, string[]>();
  for (const r of rows) out.set(Number(r.tree_size), [...(out.get(Number(r.tree_size)) ?? []), r.cosignature]);
  return out;
}
