/**
 * Sealing: a new signed checkpoint over every entry up to the current last seq, refused (nothing signed) when the
 * ledger or a sink contradicts an earlier checkpoint.
 *
 * INCREMENTAL: a checkpoint keeps its compact range (the O(log n) roots of the perfect subtrees on the tree's right
 * edge). The next seal checks that the compact range folds to the previous signed root, continues the tree from it
 * (MerkleAccumulator.resume) with the new entries only, and builds the consistency proof from it: a seal costs
 * O(new entries + log n) reads and hashes, however long the ledger. (A checkpoint sealed before compact ranges were
 * kept is continued once by re-reading its entries.) Sealed entries are no longer re-read here: that is
 * verification's job (./verify.ts), and the witnesses hold the signed roots a rewrite would have to match.
 *
 * Every new entry is checked before anything is signed over it: contiguous seq, its stored hash recomputed from its
 * columns, the chain link to its predecessor, and (with a MAC key) its entry MAC (../entry-mac.ts).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { JSONWebKeySet } from 'jose';
import type { Pool, PoolClient } from 'pg';
import type { NoteKey, SigningKey } from '../../keys/gateway-keys';
import { inTransaction } from '../../db/tx';
import { entryHash, GENESIS_HASH } from '../entry';
import { entryMacValid, type EntryMacKey } from '../entry-mac';
import { seqOf, toHashInput } from '../rows';
import {
  assembleProof,
  compactRangeRoot,
  compactRangeSubtrees,
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
import { formatCheckpointBody, signNote } from './note';
import { exportAfter, type CheckpointSink } from './sinks';
import { lastSeqIn, latestCheckpoint, ledgerLeaves, ledgerRowsWithMac, macStartSeq } from './store';
import { witnessCheckpoint, type WitnessClient, type WitnessOutcome } from './witnesses';

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
  /** Also sign the checkpoint as a C2SP signed note with this key (its name is the origin). */
  readonly noteKey?: NoteKey;
  /** Check every new entry's MAC (entries after ledger_mac_start must carry a valid one). */
  readonly macKey?: EntryMacKey;
  /** Witnesses each new checkpoint is sent to after COMMIT (C2SP tlog-witness); needs `noteKey`. */
  readonly witnesses?: readonly WitnessClient[];
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
  /** Sinks (and witnesses) that could not be read or written; they are tried again at the next seal. */
  readonly sinkFailures: readonly SinkFailure[];
  /** What each witness answered for this checkpoint. */
  readonly witnessed: readonly WitnessOutcome[];
}

/** The sink's latest checkpoint, signature-checked. */
async function latestExported(sink: CheckpointSink, jwks: JSONWebKeySet): Promise<CheckpointRecord | null> {
  const last = await sink.latestSize();
  if (last === null) return null;
  const record = await sink.get(last);
  if (!record) return null;
  const v = await verifyCheckpointJws(record.jws, jwks);
  if (!v.ok)
    throw new CheckpointError('bad_signature', `the latest checkpoint in ${sink.name} (tree size ${last}) is not valid: ${v.error}`);
  const mismatch = recordMatchesPayload(record, v.value);
  if (mismatch) throw new CheckpointError('bad_signature', `the latest checkpoint in ${sink.name} (tree size ${last}): ${mismatch}`);
  return record;
}

/**
 * Seals every entry up to the current last seq into a new signed checkpoint (see the file comment). Throws
 * CheckpointError — and signs nothing — if the ledger contradicts an earlier checkpoint, in the database or in a
 * sink; a sink or witness that cannot be reached is reported in `sinkFailures`, not thrown.
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
  const result = await inTransaction(
    pool,
    async (client): Promise<{ created: boolean; checkpoint: CheckpointRecord | null }> => {
      const prev = await latestCheckpoint(client);
      if (prev) {
        const v = await verifyCheckpointJws(prev.jws, jwks);
        if (!v.ok)
          throw new CheckpointError(
            'bad_signature',
            `the latest checkpoint in the database (tree size ${prev.treeSize}) is not valid: ${v.error}`,
          );
        const mismatch = recordMatchesPayload(prev, v.value);
        if (mismatch)
          throw new CheckpointError('bad_signature', `the latest checkpoint in the database (tree size ${prev.treeSize}): ${mismatch}`);
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
      if (n < m)
        throw new CheckpointError('rolled_back', `the database holds ${n} entries but checkpoint ${m} covered ${m}: entries were removed`);
      if (n === m) return { created: false, checkpoint: prev };
      const record = await sealRange(client, key, prev, n, batchSize, options);
      await client.query(
        `INSERT INTO ledger_checkpoints (tree_size, root_hash, last_entry_hash, signed_at, jws, kid, prev_tree_size, consistency_proof, note, compact_range)
       VALUES ($1::bigint, $2, $3, $4::timestamptz, $5, $6, $7::bigint, $8::text[], $9, $10::text[])`,
        [
          String(record.treeSize),
          record.rootHash,
          record.lastEntryHash,
          record.signedAt,
          record.jws,
          record.kid,
          record.consistency ? String(record.consistency.fromTreeSize) : null,
          record.consistency?.proof ?? [],
          record.note,
          record.compactRange,
        ],
      );
      return { created: true, checkpoint: record };
    },
    { statementTimeoutMs: timeoutMs, advisoryLock: CHECKPOINT_LOCK_KEY },
  );

  for (const { sink, latest } of exported) {
    try {
      await exportAfter(pool, sink, latest?.treeSize ?? 0, batchSize);
    } catch (e) {
      sinkFailures.push({ sink: sink.name, message: e instanceof Error ? e.message : String(e) });
    }
  }
  let witnessed: WitnessOutcome[] = [];
  if (result.checkpoint?.note && options.witnesses?.length) {
    witnessed = await witnessCheckpoint(pool, result.checkpoint, options.witnesses, {
      batchSize,
      ...(options.cache ? { cache: options.cache } : {}),
    });
    for (const w of witnessed) if (w.outcome !== 'cosigned') sinkFailures.push({ sink: `witness:${w.witness}`, message: w.detail });
  }
  return { ...result, sinkFailures, witnessed };
}

/** Continues the tree from `prev` with entries m+1..n, checks each, and signs the new root (see the file comment). */
async function sealRange(
  client: PoolClient,
  key: SigningKey,
  prev: CheckpointRecord | null,
  n: number,
  batchSize: number,
  options: SealOptions,
): Promise<CheckpointRecord> {
  const m = prev?.treeSize ?? 0;
  const ranges = m > 0 ? consistencyRanges(m, n) : [];
  const needed = new Set(proofPieces(ranges).map(subtreeKey));
  const pieces = new Map<string, Buffer>();
  const onSubtree = (s: { start: number; level: number }, h: Buffer): void => {
    const k = subtreeKey(s);
    if (needed.has(k)) pieces.set(k, h);
    options.cache?.remember(s, h);
  };
  let acc: MerkleAccumulator;
  let lastHash = prev?.lastEntryHash ?? GENESIS_HASH;
  const missing = (seq: number): CheckpointError =>
    new CheckpointError(
      'missing_entries',
      `entry ${acc.size + 1} is missing from the ledger (the next entry found is ${seq}): run npm run audit:verify`,
    );

  if (prev?.compactRange) {
    // 1a. The previous compact range must fold to the previous signed root: then it IS that tree's right edge.
    const range = prev.compactRange.map(fromHex);
    if (!compactRangeRoot(range).equals(fromHex(prev.rootHash))) {
      throw new CheckpointError(
        'inconsistent',
        `the stored compact range of checkpoint ${m} does not give its signed root: the checkpoint row was changed`,
      );
    }
    acc = MerkleAccumulator.resume(m, range, { onSubtree });
    compactRangeSubtrees(m).forEach((s, i) => onSubtree(s, range[i] as Buffer));
  } else {
    // 1b. A checkpoint without a compact range (sealed before they were kept): re-read its entries once.
    acc = new MerkleAccumulator({ onSubtree });
    for await (const leaf of ledgerLeaves(client, 0, m, batchSize)) {
      if (leaf.seq !== acc.size + 1) throw missing(leaf.seq);
      acc.pushLeafData(ledgerLeafData(leaf.entryHash));
      lastHash = leaf.entryHash;
    }
    if (acc.size !== m) throw missing(m + 1);
    if (prev && toHex(acc.root()) !== prev.rootHash) {
      throw new CheckpointError(
        'inconsistent',
        `entries 1 to ${m} no longer match the signed checkpoint of tree size ${m}: they were changed after it was signed`,
      );
    }
  }

  // 2. New entries: recompute each hash, link and MAC before anything is signed over them.
  const macFrom = options.macKey ? await macStartSeq(client) : Number.POSITIVE_INFINITY;
  let checked = 0;
  for await (const row of ledgerRowsWithMac(client, m, n, batchSize)) {
    // A seal on the serving thread (on demand, or with the sealer in-process) lets waiting requests run every 200
    // entries, so a second's worth of entries (tens of ms of hashing) is never one block in front of them.
    if (++checked % 200 === 0) await yieldToEventLoop();
    const seq = seqOf(row);
    if (seq !== acc.size + 1) throw missing(seq);
    if (entryHash(toHashInput(row)) !== row.entry_hash)
      throw new CheckpointError('chain_broken', `entry ${seq} does not match its stored hash: run npm run audit:verify`);
    if (row.prev_hash !== lastHash) {
      if (seq === m + 1 && prev) {
        throw new CheckpointError(
          'inconsistent',
          `entry ${seq} does not follow entry ${m} as checkpoint ${m} signed it: entries that checkpoint covers were changed after it was signed; run npm run audit:verify`,
        );
      }
      throw new CheckpointError('chain_broken', `entry ${seq} does not follow entry ${seq - 1}: run npm run audit:verify`);
    }
    if (options.macKey && seq > macFrom && !entryMacValid(options.macKey, row.entry_hash, row.entry_mac)) {
      throw new CheckpointError(
        'forged_entry',
        `entry ${seq} does not carry the gateway's MAC: it was not written by the gateway, or it was changed after it was written; run npm run audit:verify`,
      );
    }
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
  const note = options.noteKey
    ? signNote(formatCheckpointBody({ origin: options.noteKey.name, treeSize: n, rootHash: payload.rootHash }), [options.noteKey])
    : null;
  return {
    treeSize: n,
    rootHash: payload.rootHash,
    lastEntryHash: lastHash,
    signedAt,
    kid: key.kid,
    jws,
    consistency,
    note,
    compactRange: acc.compactRange().map(toHex),
  };
}
