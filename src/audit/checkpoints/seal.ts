/**
 * Sealing: a new signed checkpoint over every entry up to the current last seq, refused (nothing signed) when the
 * ledger or a sink contradicts an earlier checkpoint.
 */
import type { JSONWebKeySet } from 'jose';
import type { Pool, PoolClient } from 'pg';
import type { SigningKey } from '../../keys/gateway-keys';
import { inTransaction } from '../../db/tx';
import { entryHash, GENESIS_HASH } from '../entry';
import { seqOf, toHashInput } from '../rows';
import {
  assembleProof,
  consistencyRanges,
  fromHex,
  ledgerLeafData,
  MerkleAccumulator,
  proofPieces,
  subtreeKey,
  toHex,
  verifyConsistency,
} from '../merkle';
import type { SubtreeCache } from '../subtree-cache';
import {
  CheckpointError,
  CHECKPOINT_LOCK_KEY,
  LEDGER_NAME,
  recordMatchesPayload,
  signCheckpoint,
  verifyCheckpointJws,
  type CheckpointPayload,
  type CheckpointRecord,
} from './statement';
import { exportAfter, type CheckpointSink } from './sinks';
import { lastSeqIn, latestCheckpoint, ledgerLeaves, ledgerRows } from './store';


export interface SealOptions {
  /** Where new checkpoints are exported after COMMIT (and checked for a rollback before sealing). */
  readonly sinks?: readonly CheckpointSink[];
  /** Keys that signed earlier checkpoints (after a key rotation); default: the sealing key's public key only. */
  readonly jwks?: JSONWebKeySet;
  /** Entries read per page (default 5000). */
  readonly batchSize?: number;
  /** Warmed with the subtrees met on the way, for receipts. */
  readonly cache?: SubtreeCache;
  /** statement_timeout for each statement, including the wait for another sealer's lock (ms, default 120 000). */
  readonly timeoutMs?: number;
}

export interface SinkFailure {
  readonly sink: string;
  readonly message: string;
}

export interface SealResult {
  /** False when no entry was appended since the last checkpoint (then `checkpoint` is that last one). */
  readonly created: boolean;
  /** Null only for an empty ledger. */
  readonly checkpoint: CheckpointRecord | null;
  /** Sinks that could not be read or written; their checkpoints are exported at the next seal. */
  readonly sinkFailures: readonly SinkFailure[];
}

/** The sink's latest checkpoint, signature-checked. */
async function latestExported(sink: CheckpointSink, jwks: JSONWebKeySet): Promise<CheckpointRecord | null> {
  const sizes = await sink.sizes();
  const last = sizes[sizes.length - 1];
  if (last === undefined) return null;
  const record = await sink.get(last);
  if (!record) return null;
  const v = await verifyCheckpointJws(record.jws, jwks);
  if (!v.ok) throw new CheckpointError('bad_signature', `the latest checkpoint in ${sink.name} (tree size ${last}) is not valid: ${v.error}`);
  const mismatch = recordMatchesPayload(record, v.value);
  if (mismatch) throw new CheckpointError('bad_signature', `the latest checkpoint in ${sink.name} (tree size ${last}): ${mismatch}`);
  return record;
}

/**
 * Seals every entry up to the current last seq into a new signed checkpoint (see the file comment). Throws
 * CheckpointError — and signs nothing — if the ledger contradicts an earlier checkpoint, in the database or in a
 * sink; a sink that cannot be read or written is reported in `sinkFailures`, not thrown.
 */
export async function sealLedger(pool: Pool, key: SigningKey, options: SealOptions = {}): Promise<SealResult> {
  const sinks = options.sinks ?? [];
  const jwks = options.jwks ?? { keys: [key.publicJwk] };
  const batchSize = options.batchSize ?? 5000;
  const timeoutMs = options.timeoutMs ?? 120_000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs must be a positive integer');
  const sinkFailures: SinkFailure[] = [];

  // What the sinks saw last: a database behind them was rolled back.
  const exported: Array<{ sink: CheckpointSink; latest: CheckpointRecord | null }> = [];
  for (const sink of sinks) {
    try {
      exported.push({ sink, latest: await latestExported(sink, jwks) });
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      sinkFailures.push({ sink: sink.name, message: e instanceof Error ? e.message : String(e) });
    }
  }

  // READ COMMITTED: each statement after the lock sees the previous sealer's committed checkpoint.
  const result = await inTransaction(pool, async (client): Promise<{ created: boolean; checkpoint: CheckpointRecord | null }> => {
    const prev = await latestCheckpoint(client);
    if (prev) {
      const v = await verifyCheckpointJws(prev.jws, jwks);
      if (!v.ok) throw new CheckpointError('bad_signature', `the latest checkpoint in the database (tree size ${prev.treeSize}) is not valid: ${v.error}`);
      const mismatch = recordMatchesPayload(prev, v.value);
      if (mismatch) throw new CheckpointError('bad_signature', `the latest checkpoint in the database (tree size ${prev.treeSize}): ${mismatch}`);
    }
    const m = prev?.treeSize ?? 0;
    for (const { sink, latest } of exported) {
      if (!latest) continue;
      if (latest.treeSize > m) {
        throw new CheckpointError(
          'rolled_back',
          `${sink.name} holds a checkpoint of ${latest.treeSize} entries but the database's latest covers ${m}: the database was rolled back`,
        );
      }
      if (latest.treeSize === m && prev && latest.jws !== prev.jws) {
        throw new CheckpointError('inconsistent', `${sink.name} holds a different checkpoint for tree size ${m} than the database`);
      }
    }
    const n = await lastSeqIn(client);
    if (n < m) throw new CheckpointError('rolled_back', `the database holds ${n} entries but checkpoint ${m} covered ${m}: entries were removed`);
    if (n === m) return { created: false, checkpoint: prev };
    const record = await sealRange(client, key, prev, n, batchSize, options.cache);
    await client.query(
      `INSERT INTO ledger_checkpoints (tree_size, root_hash, last_entry_hash, signed_at, jws, kid, prev_tree_size, consistency_proof)
       VALUES ($1::bigint, $2, $3, $4::timestamptz, $5, $6, $7::bigint, $8::text[])`,
      [
        String(record.treeSize), record.rootHash, record.lastEntryHash, record.signedAt, record.jws, record.kid,
        record.consistency ? String(record.consistency.fromTreeSize) : null, record.consistency?.proof ?? [],
      ],
    );
    return { created: true, checkpoint: record };
  }, { statementTimeoutMs: timeoutMs, advisoryLock: CHECKPOINT_LOCK_KEY });

  for (const { sink, latest } of exported) {
    try {
      await exportAfter(pool, sink, latest?.treeSize ?? 0, batchSize);
    } catch (e) {
      sinkFailures.push({ sink: sink.name, message: e instanceof Error ? e.message : String(e) });
    }
  }
  return { ...result, sinkFailures };
}

/** Streams entries 1..n, checks them against `prev` and the hash chain, and signs the new root. */
async function sealRange(
  client: PoolClient,
  key: SigningKey,
  prev: CheckpointRecord | null,
  n: number,
  batchSize: number,
  cache: SubtreeCache | undefined,
): Promise<CheckpointRecord> {
  const m = prev?.treeSize ?? 0;
  const ranges = m > 0 ? consistencyRanges(m, n) : [];
  const needed = new Set(proofPieces(ranges).map(subtreeKey));
  const pieces = new Map<string, Buffer>();
  const acc = new MerkleAccumulator({
    onSubtree: (s, h) => {
      const k = subtreeKey(s);
      if (needed.has(k)) pieces.set(k, h);
      cache?.remember(s, h);
    },
  });
  let lastHash = GENESIS_HASH;
  const missing = (seq: number): CheckpointError =>
    new CheckpointError('missing_entries', `entry ${acc.size + 1} is missing from the ledger (the next entry found is ${seq}): run npm run audit:verify`);

  // 1. Entries the previous checkpoint covers: they must reproduce its signed root.
  for await (const leaf of ledgerLeaves(client, 0, m, batchSize)) {
    if (leaf.seq !== acc.size + 1) throw missing(leaf.seq);
    acc.pushLeafData(ledgerLeafData(leaf.entryHash));
    lastHash = leaf.entryHash;
  }
  if (acc.size !== m) throw missing(m + 1);
  if (prev && toHex(acc.root()) !== prev.rootHash) {
    throw new CheckpointError('inconsistent', `entries 1 to ${m} no longer match the signed checkpoint of tree size ${m}: they were changed after it was signed`);
  }
  // 2. New entries: recompute each hash and link before anything is signed over them.
  for await (const row of ledgerRows(client, m, n, batchSize)) {
    const seq = seqOf(row);
    if (seq !== acc.size + 1) throw missing(seq);
    if (entryHash(toHashInput(row)) !== row.entry_hash) throw new CheckpointError('chain_broken', `entry ${seq} does not match its stored hash: run npm run audit:verify`);
    if (row.prev_hash !== lastHash) throw new CheckpointError('chain_broken', `entry ${seq} does not follow entry ${seq - 1}: run npm run audit:verify`);
    acc.pushLeafData(ledgerLeafData(row.entry_hash));
    lastHash = row.entry_hash;
  }
  if (acc.size !== n) throw missing(n + 1);
  const root = acc.root();

  // 3. The RFC 9162 consistency proof from the previous checkpoint, checked against both roots.
  let consistency: CheckpointRecord['consistency'] = null;
  if (prev) {
    const proof = assembleProof(ranges, pieces);
    if (!verifyConsistency(m, n, fromHex(prev.rootHash), root, proof)) {
      throw new CheckpointError('inconsistent', `the ledger of ${n} entries is not an append-only extension of the checkpoint of ${m}`);
    }
    consistency = { fromTreeSize: m, proof: proof.map(toHex) };
  }

  const [clock] = (await client.query<{ now: Date }>(`SELECT date_trunc('milliseconds', clock_timestamp()) AS now`)).rows;
  const signedAt = (clock?.now ?? new Date()).toISOString();
  const payload: CheckpointPayload = { v: 1, ledger: LEDGER_NAME, treeSize: n, rootHash: toHex(root), lastEntryHash: lastHash, signedAt };
  const jws = await signCheckpoint(payload, key);
  return { treeSize: n, rootHash: payload.rootHash, lastEntryHash: lastHash, signedAt, kid: key.kid, jws, consistency };
}
