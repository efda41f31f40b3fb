/**
 * Signed checkpoints of the audit ledger: what lets an outside auditor trust the ledger WITHOUT trusting us.
 *
 * A checkpoint says, signed with the gateway's `ledger` key (ES256 compact JWS, `typ: sg-checkpoint+jwt`, public key
 * at /.well-known/jwks.json):
 *
 *   { v: 1, ledger: 'safeguard-gateway', treeSize, rootHash, lastEntryHash, signedAt }
 *
 * rootHash is the RFC 9162 Merkle root (./merkle.ts) over the entry_hash of entries 1..treeSize. With it, anybody
 * holding the JWKS can check a receipt (./receipts.ts) for one entry, and that two checkpoints describe one
 * append-only history (a consistency proof) — without the database.
 *
 * SEALING (`sealLedger`): under an advisory lock, stream every entry up to the current last seq in keyset pages
 * (O(log n) memory). Entries already covered by the previous checkpoint must reproduce its signed root (checked with
 * an RFC 9162 consistency proof, which is stored with the new checkpoint); entries after it must have an intact
 * hash chain (recomputed). Only then is the new root signed and stored in `ledger_checkpoints` (append-only, like
 * the ledger). A checkpoint never signs history that contradicts an earlier one.
 *
 * EXPORT: after COMMIT every new checkpoint is written to each `CheckpointSink` (write-once JSON files in
 * CHECKPOINT_EXPORT_DIR and CHECKPOINT_MIRROR_DIR; the interface admits an HTTP or S3 sink). Sealing also refuses
 * to continue when a sink holds a later checkpoint than the database: the database was rolled back.
 *
 * VERIFYING (`verifyCheckpoints`): one streaming pass over the entries inside one REPEATABLE READ snapshot, with the
 * database's checkpoints and the exported ones merged in tree-size order. Each checkpoint's signature is checked
 * against the published JWKS, its root against the entries now in the database, and its consistency proof against
 * its predecessor. An exported checkpoint the database no longer matches (entries removed, history rewritten)
 * shows that the database was rolled back, and from which tree size trust is lost.
 */
import { link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CompactSign, compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { GatewayKeys, SigningKey } from '../keys/gateway-keys';
import { err, ok, type Result } from '../errors';
import { entryHash, GENESIS_HASH } from './ledger';
import { LEDGER_COLUMNS, seqOf, toHashInput, type LedgerRow } from './rows';
import { inSnapshot } from '../db/snapshot';
import {
  assembleProof,
  consistencyRanges,
  fromHex,
  isHash,
  ledgerLeafData,
  MerkleAccumulator,
  proofPieces,
  subtreeKey,
  toHex,
  verifyConsistency,
  type Subtree,
} from './merkle';

// ---------------------------------------------------------------------------------------------------------------
// The signed statement

export const CHECKPOINT_TYP = 'sg-checkpoint+jwt';
export const LEDGER_NAME = 'safeguard-gateway';
export const CHECKPOINT_ALG = 'ES256';
/** pg_advisory_xact_lock key that serialises sealers across processes ("sg-chkpt" in ASCII). */
export const CHECKPOINT_LOCK_KEY = '8315665141939794036';

export interface CheckpointPayload {
  readonly v: 1;
  readonly ledger: typeof LEDGER_NAME;
  readonly treeSize: number;
  /** RFC 9162 Merkle root over the entry_hash of entries 1..treeSize, hex. */
  readonly rootHash: string;
  /** entry_hash of entry treeSize (the head of the hash chain), hex. */
  readonly lastEntryHash: string;
  /** ISO 8601 with milliseconds, database clock. */
  readonly signedAt: string;
}

/** One checkpoint as stored and exported. Only `jws` is authoritative; the other fields repeat what it says. */
export interface CheckpointRecord {
  readonly treeSize: number;
  readonly rootHash: string;
  readonly lastEntryHash: string;
  readonly signedAt: string;
  readonly kid: string;
  readonly jws: string;
  /** RFC 9162 consistency proof from the previous checkpoint (null for the first). Needs no signature. */
  readonly consistency: { readonly fromTreeSize: number; readonly proof: readonly string[] } | null;
}

/** The JSON file a sink holds for one checkpoint. */
export interface ExportedCheckpointFile extends CheckpointRecord {
  readonly type: 'sg-ledger-checkpoint';
  readonly v: 1;
}

export async function signCheckpoint(payload: CheckpointPayload, key: SigningKey): Promise<string> {
  if (key.use !== 'ledger') throw new Error('checkpoints are signed with the ledger key only');
  return new CompactSign(Buffer.from(JSON.stringify(payload), 'utf8'))
    .setProtectedHeader({ alg: CHECKPOINT_ALG, kid: key.kid, typ: CHECKPOINT_TYP })
    .sign(key.privateKey);
}

const PAYLOAD_KEYS = ['v', 'ledger', 'treeSize', 'rootHash', 'lastEntryHash', 'signedAt'].sort().join(',');
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function parsePayload(bytes: Uint8Array): CheckpointPayload | null {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const p = value as Record<string, unknown>;
  if (Object.keys(p).sort().join(',') !== PAYLOAD_KEYS) return null;
  if (p.v !== 1 || p.ledger !== LEDGER_NAME) return null;
  if (typeof p.treeSize !== 'number' || !Number.isSafeInteger(p.treeSize) || p.treeSize < 1) return null;
  if (!isHash(p.rootHash) || !isHash(p.lastEntryHash)) return null;
  if (typeof p.signedAt !== 'string' || !ISO_MS.test(p.signedAt) || Number.isNaN(Date.parse(p.signedAt))) return null;
  return { v: 1, ledger: LEDGER_NAME, treeSize: p.treeSize, rootHash: p.rootHash, lastEntryHash: p.lastEntryHash, signedAt: p.signedAt };
}

export interface VerifiedCheckpoint {
  readonly payload: CheckpointPayload;
  readonly kid: string;
}

/**
 * Checks a checkpoint JWS against a JWKS (jose: ES256 only, the key chosen by `kid`), its `typ`, and the shape of
 * its payload. Never throws: a refusal says why in words.
 */
export async function verifyCheckpointJws(jws: string, jwks: JSONWebKeySet): Promise<Result<VerifiedCheckpoint, string>> {
  if (typeof jws !== 'string' || jws.length === 0 || jws.length > 4096) return err('the checkpoint is not a compact JWS');
  let verified;
  try {
    verified = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: [CHECKPOINT_ALG] });
  } catch (e) {
    const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
    if (code === 'ERR_JWKS_NO_MATCHING_KEY') return err('it is signed by a key that is not in the published key set');
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return err('its signature does not verify');
    return err(`it is not a valid signed checkpoint (${e instanceof Error ? e.message : 'unreadable'})`);
  }
  const { protectedHeader, payload } = verified;
  if (protectedHeader.typ !== CHECKPOINT_TYP) return err(`its typ is ${JSON.stringify(protectedHeader.typ ?? null)}, not ${CHECKPOINT_TYP}`);
  if (typeof protectedHeader.kid !== 'string') return err('it names no key id');
  const parsed = parsePayload(payload);
  if (!parsed) return err('its signed payload is not a checkpoint of this ledger');
  return ok({ payload: parsed, kid: protectedHeader.kid });
}

/** A record whose fields repeat its signed payload exactly (a DBA may edit the columns but cannot re-sign). */
function recordMatchesPayload(record: CheckpointRecord, v: VerifiedCheckpoint): string | null {
  const p = v.payload;
  if (record.treeSize !== p.treeSize) return `it is filed as tree size ${record.treeSize} but signs tree size ${p.treeSize}`;
  if (record.rootHash !== p.rootHash) return 'its stored root hash differs from the signed one';
  if (record.lastEntryHash !== p.lastEntryHash) return 'its stored last entry hash differs from the signed one';
  if (record.signedAt !== p.signedAt) return 'its stored signing time differs from the signed one';
  if (record.kid !== v.kid) return 'its stored key id differs from the signed one';
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

export type CheckpointErrorCode = 'rolled_back' | 'inconsistent' | 'bad_signature' | 'chain_broken' | 'missing_entries';

/** Sealing was refused because the ledger (or its checkpoints) is not what was signed before. Nothing was signed. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sinks: where checkpoints are copied outside the database

export interface CheckpointSink {
  /** For logs and reports, e.g. `dir:/mnt/audit-mirror`. */
  readonly name: string;
  /**
   * Store one checkpoint, write-once: storing the same checkpoint again is a no-op; a DIFFERENT checkpoint for a
   * tree size already held is refused (throws), never overwritten.
   */
  put(record: CheckpointRecord): Promise<void>;
  /** Tree sizes held, ascending. */
  sizes(): Promise<number[]>;
  /** The checkpoint held for a tree size, or null; throws if it is held but unreadable. */
  get(treeSize: number): Promise<CheckpointRecord | null>;
}

export class CheckpointSinkConflictError extends Error {
  override readonly name = 'CheckpointSinkConflictError';
}

const FILE_PATTERN = /^checkpoint-(\d{16})\.json$/;
const fileName = (treeSize: number): string => `checkpoint-${String(treeSize).padStart(16, '0')}.json`;

export function toExportFile(record: CheckpointRecord): ExportedCheckpointFile {
  return { type: 'sg-ledger-checkpoint', v: 1, ...record, consistency: record.consistency ? { fromTreeSize: record.consistency.fromTreeSize, proof: [...record.consistency.proof] } : null };
}

/** Reads an exported checkpoint file's JSON (shape only; the signature is checked by the verifier). */
export function parseExportFile(value: unknown): CheckpointRecord | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const f = value as Record<string, unknown>;
  if (f.type !== 'sg-ledger-checkpoint' || f.v !== 1) return null;
  if (typeof f.treeSize !== 'number' || !Number.isSafeInteger(f.treeSize) || f.treeSize < 1) return null;
  if (!isHash(f.rootHash) || !isHash(f.lastEntryHash)) return null;
  if (typeof f.signedAt !== 'string' || typeof f.kid !== 'string' || typeof f.jws !== 'string') return null;
  let consistency: CheckpointRecord['consistency'] = null;
  if (f.consistency !== null) {
    if (typeof f.consistency !== 'object' || f.consistency === undefined || Array.isArray(f.consistency)) return null;
    const c = f.consistency as Record<string, unknown>;
    if (typeof c.fromTreeSize !== 'number' || !Number.isSafeInteger(c.fromTreeSize) || c.fromTreeSize < 1) return null;
    if (!Array.isArray(c.proof) || c.proof.length > 64 || !c.proof.every(isHash)) return null;
    consistency = { fromTreeSize: c.fromTreeSize, proof: c.proof as string[] };
  }
  return { treeSize: f.treeSize, rootHash: f.rootHash, lastEntryHash: f.lastEntryHash, signedAt: f.signedAt, kid: f.kid, jws: f.jws, consistency };
}

/**
 * A directory of write-once JSON files (`checkpoint-<16-digit tree size>.json`), e.g. a local export directory or a
 * mounted remote share. Each file is written to a temporary name, fsynced, then hard-linked into place — which
 * fails if the name exists, so a file is never overwritten or seen half-written.
 */
export class DirectoryCheckpointSink implements CheckpointSink {
  readonly name: string;
  constructor(readonly dir: string) {
    this.dir = path.resolve(dir);
    this.name = `dir:${this.dir}`;
  }

  async put(record: CheckpointRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
    const target = path.join(this.dir, fileName(record.treeSize));
    const text = `${JSON.stringify(toExportFile(record), null, 2)}\n`;
    const temp = path.join(this.dir, `.tmp-${randomBytes(8).toString('hex')}`);
    const handle = await open(temp, 'wx', 0o640);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const existing = await this.get(record.treeSize).catch(() => null);
      if (existing?.jws !== record.jws) {
        throw new CheckpointSinkConflictError(`${this.name} already holds a different checkpoint for tree size ${record.treeSize}`);
      }
    } finally {
      await unlink(temp).catch(() => undefined);
    }
    // Make the new directory entry durable too (best effort: not every file system allows fsync on a directory).
    const dirHandle = await open(this.dir, 'r').catch(() => null);
    if (dirHandle) await dirHandle.sync().catch(() => undefined).finally(() => dirHandle.close());
  }

  async sizes(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const sizes: number[] = [];
    for (const n of names) {
      const m = FILE_PATTERN.exec(n);
      if (m?.[1]) sizes.push(Number(m[1]));
    }
    return sizes.filter((s) => Number.isSafeInteger(s) && s > 0).sort((a, b) => a - b);
  }

  async get(treeSize: number): Promise<CheckpointRecord | null> {
    let text: string;
    try {
      text = await readFile(path.join(this.dir, fileName(treeSize)), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let parsed: CheckpointRecord | null = null;
    try {
      parsed = parseExportFile(JSON.parse(text));
    } catch {
      parsed = null;
    }
    if (!parsed || parsed.treeSize !== treeSize) throw new Error(`${fileName(treeSize)} in ${this.name} is not a readable checkpoint file`);
    return parsed;
  }
}

/** The sinks configured by CHECKPOINT_EXPORT_DIR and CHECKPOINT_MIRROR_DIR (either may be absent). */
export function directorySinks(dirs: { exportDir?: string | undefined; mirrorDir?: string | undefined }): CheckpointSink[] {
  const out: CheckpointSink[] = [];
  if (dirs.exportDir) out.push(new DirectoryCheckpointSink(dirs.exportDir));
  if (dirs.mirrorDir) out.push(new DirectoryCheckpointSink(dirs.mirrorDir));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the database

interface CheckpointRow {
  readonly tree_size: string;
  readonly root_hash: string;
  readonly last_entry_hash: string;
  readonly signed_at: Date;
  readonly jws: string;
  readonly kid: string;
  readonly prev_tree_size: string | null;
  readonly consistency_proof: string[];
}

const CHECKPOINT_COLUMNS =
  'tree_size::text AS tree_size, root_hash, last_entry_hash, signed_at, jws, kid, prev_tree_size::text AS prev_tree_size, consistency_proof';

function toRecord(row: CheckpointRow): CheckpointRecord {
  return {
    treeSize: Number(row.tree_size),
    rootHash: row.root_hash,
    lastEntryHash: row.last_entry_hash,
    signedAt: row.signed_at.toISOString(),
    kid: row.kid,
    jws: row.jws,
    consistency: row.prev_tree_size === null ? null : { fromTreeSize: Number(row.prev_tree_size), proof: row.consistency_proof },
  };
}

/** Anything that runs a query: a Pool or a PoolClient. */
export type Queryable = Pick<Pool, 'query'> | Pick<PoolClient, 'query'>;

async function rowsOf<T extends object>(db: Queryable, sql: string, params: unknown[]): Promise<T[]> {
  // Both pg overloads return the same shape; one call site keeps the union callable.
  const result = await (db as Pick<Pool, 'query'>).query<T & Record<string, unknown>>(sql, params);
  return result.rows;
}

export async function latestCheckpoint(db: Queryable): Promise<CheckpointRecord | null> {
  const [row] = await rowsOf<CheckpointRow>(db, `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY ledger_checkpoints.tree_size DESC LIMIT 1`, []);
  return row ? toRecord(row) : null;
}

export async function checkpointAt(db: Queryable, treeSize: number): Promise<CheckpointRecord | null> {
  const [row] = await rowsOf<CheckpointRow>(db, `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size = $1::bigint`, [String(treeSize)]);
  return row ? toRecord(row) : null;
}

/** The smallest checkpoint covering `treeSize` entries or more, or null. */
export async function checkpointCovering(db: Queryable, treeSize: number): Promise<CheckpointRecord | null> {
  const [row] = await rowsOf<CheckpointRow>(
    db,
    `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size >= $1::bigint ORDER BY ledger_checkpoints.tree_size LIMIT 1`,
    [String(treeSize)],
  );
  return row ? toRecord(row) : null;
}

/** Checkpoints newest first, keyset-paged by tree size (`before`: only those smaller). */
export async function listCheckpoints(db: Queryable, page: { before?: number; limit: number }): Promise<CheckpointRecord[]> {
  const rows = page.before === undefined
    ? await rowsOf<CheckpointRow>(db, `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY ledger_checkpoints.tree_size DESC LIMIT $1`, [page.limit])
    : await rowsOf<CheckpointRow>(
        db,
        `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size < $1::bigint ORDER BY ledger_checkpoints.tree_size DESC LIMIT $2`,
        [String(page.before), page.limit],
      );
  return rows.map(toRecord);
}

/** Checkpoints oldest first with tree_size > after, keyset-paged. */
async function checkpointsAfter(db: Queryable, after: number, limit: number): Promise<CheckpointRecord[]> {
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
async function* windows<T>(db: Queryable, sql: string, afterSeq: number, toSeq: number, batchSize: number): AsyncGenerator<T> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  for (let after = afterSeq; after < toSeq; ) {
    const to = Math.min(toSeq, after + batchSize);
    yield* await rowsOf<T & object>(db, sql, [String(after), String(to)]);
    after = to;
  }
}

/** Leaves (seq, entry_hash) of the entries with afterSeq < seq <= toSeq, ascending. */
export async function* ledgerLeaves(db: Queryable, afterSeq: number, toSeq: number, batchSize: number): AsyncGenerator<Leaf> {
  const sql = 'SELECT seq::text AS seq, entry_hash FROM audit_ledger WHERE seq > $1::bigint AND seq <= $2::bigint ORDER BY audit_ledger.seq';
  for await (const r of windows<{ seq: string; entry_hash: string }>(db, sql, afterSeq, toSeq, batchSize)) yield { seq: seqOf(r), entryHash: r.entry_hash };
}

/** Whole rows of the entries with afterSeq < seq <= toSeq, ascending. */
function ledgerRows(db: Queryable, afterSeq: number, toSeq: number, batchSize: number): AsyncGenerator<LedgerRow> {
  const sql = `SELECT ${LEDGER_COLUMNS} FROM audit_ledger WHERE seq > $1::bigint AND seq <= $2::bigint ORDER BY audit_ledger.seq`;
  return windows<LedgerRow>(db, sql, afterSeq, toSeq, batchSize);
}

async function lastSeqIn(db: Queryable): Promise<number> {
  const [row] = await rowsOf<{ max: string | null }>(db, 'SELECT max(seq)::text AS max FROM audit_ledger', []);
  return row?.max ? Number(row.max) : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// The subtree cache (receipts)

/**
 * Roots of perfect aligned subtrees of at least 2^minLevel leaves, remembered from earlier passes so that an
 * inclusion proof reads only a few hundred leaves instead of the whole ledger. Needs no trust: a proof built from a
 * wrong value does not verify against the signed root (the receipt builder checks before answering). One cache
 * per database. Bounded: the oldest entries go first.
 */
export class SubtreeCache {
  private readonly map = new Map<string, Buffer>();
  constructor(
    readonly minLevel = 8,
    readonly maxEntries = 200_000,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(s: Subtree): Buffer | undefined {
    return this.map.get(subtreeKey(s));
  }

  remember(s: Subtree, hash: Buffer): void {
    if (s.level < this.minLevel) return;
    const key = subtreeKey(s);
    if (this.map.has(key)) return;
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, hash);
  }

  clear(): void {
    this.map.clear();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sealing

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

  const client = await pool.connect();
  let failed = false;
  let result: { created: boolean; checkpoint: CheckpointRecord | null };
  try {
    await client.query(`BEGIN; SET LOCAL statement_timeout = ${timeoutMs}; SELECT pg_advisory_xact_lock(${CHECKPOINT_LOCK_KEY})`);
    // READ COMMITTED: each statement after the lock sees the previous sealer's committed checkpoint.
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
    if (n === m) {
      await client.query('COMMIT');
      result = { created: false, checkpoint: prev };
    } else {
      const record = await sealRange(client, key, prev, n, batchSize, options.cache);
      await client.query(
        `INSERT INTO ledger_checkpoints (tree_size, root_hash, last_entry_hash, signed_at, jws, kid, prev_tree_size, consistency_proof)
         VALUES ($1::bigint, $2, $3, $4::timestamptz, $5, $6, $7::bigint, $8::text[])`,
        [
          String(record.treeSize), record.rootHash, record.lastEntryHash, record.signedAt, record.jws, record.kid,
          record.consistency ? String(record.consistency.fromTreeSize) : null, record.consistency?.proof ?? [],
        ],
      );
      const commit = await client.query('COMMIT');
      if (commit.command !== 'COMMIT') throw new Error(`COMMIT answered ${commit.command}`);
      result = { created: true, checkpoint: record };
    }
  } catch (e) {
    failed = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release(failed ? true : undefined);
  }

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

/** Exports every database checkpoint with tree size above `after` to `sink`, oldest first. */
async function exportAfter(db: Queryable, sink: CheckpointSink, after: number, batchSize: number): Promise<number> {
  let exported = 0;
  let from = after;
  for (;;) {
    const page = await checkpointsAfter(db, from, Math.min(batchSize, 1000));
    for (const record of page) {
      await sink.put(record);
      exported += 1;
    }
    const last = page[page.length - 1];
    if (!last) return exported;
    from = last.treeSize;
  }
}

/**
 * Copies every database checkpoint a sink does not hold yet (e.g. a mirror added later, or one that was offline).
 * Never overwrites: a sink holding a different checkpoint for a size makes this throw.
 */
export async function exportAllCheckpoints(pool: Pool, sinks: readonly CheckpointSink[]): Promise<Array<{ sink: string; exported: number }>> {
  const out: Array<{ sink: string; exported: number }> = [];
  for (const sink of sinks) {
    const held = new Set(await sink.sizes());
    let exported = 0;
    let from = 0;
    for (;;) {
      const page = await checkpointsAfter(pool, from, 1000);
      for (const record of page) {
        if (!held.has(record.treeSize)) {
          await sink.put(record);
          exported += 1;
        }
      }
      const last = page[page.length - 1];
      if (!last) break;
      from = last.treeSize;
    }
    out.push({ sink: sink.name, exported });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The periodic sealer

export interface CheckpointerOptions {
  readonly pool: Pool;
  readonly keys: GatewayKeys;
  /** Time between seals (ms). */
  readonly intervalMs: number;
  readonly sinks: readonly CheckpointSink[];
  readonly logger: Logger;
  readonly cache?: SubtreeCache;
  /** Seal once right away as well (default false). */
  readonly sealOnStart?: boolean;
}

export interface Checkpointer {
  /** Seal now (queued behind a seal in progress). Rejects as sealLedger does. */
  sealNow(): Promise<SealResult>;
  /** No more seals; resolves when the one in progress (if any) has finished. */
  stop(): Promise<void>;
}

export function startCheckpointer(options: CheckpointerOptions): Checkpointer {
  const { pool, keys, intervalMs, sinks, logger } = options;
  if (!Number.isInteger(intervalMs) || intervalMs < 1000) throw new RangeError('intervalMs must be a whole number of at least 1000');
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  const seal = (): Promise<SealResult> => {
    const next = running.then(() =>
      sealLedger(pool, keys.key('ledger'), { sinks, jwks: keys.jwks(), ...(options.cache ? { cache: options.cache } : {}) }),
    );
    running = next.catch(() => undefined);
    return next;
  };

  const tick = async (): Promise<void> => {
    timer = undefined;
    try {
      const r = await seal();
      if (r.created && r.checkpoint) {
        logger.info({ treeSize: r.checkpoint.treeSize, rootHash: r.checkpoint.rootHash, kid: r.checkpoint.kid }, 'audit ledger sealed');
      }
      for (const f of r.sinkFailures) logger.warn({ sink: f.sink, err: f.message }, 'could not export a ledger checkpoint; it will be retried');
    } catch (e) {
      const code = e instanceof CheckpointError ? e.code : 'error';
      logger.error({ err: e, code }, 'the audit ledger could not be sealed: it may have been tampered with; run npm run audit:verify');
    }
    if (!stopped) schedule();
  };
  const schedule = (): void => {
    timer = setTimeout(() => void tick(), intervalMs);
    timer.unref();
  };

  if (options.sealOnStart) void tick();
  else schedule();

  return {
    sealNow: seal,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Verification

export type CheckpointProblemKind = 'bad_signature' | 'root_mismatch' | 'inconsistent' | 'missing_in_database' | 'rolled_back';

export interface CheckpointProblem {
  readonly treeSize: number;
  readonly problem: CheckpointProblemKind;
  readonly detail: string;
}

export interface CheckpointVerifyReport {
  readonly ok: boolean;
  /** Distinct tree sizes examined (database and export together). */
  readonly checkpointsChecked: number;
  /** Of which held by the export compared with (0 when none was given: then a rollback cannot be seen). */
  readonly exportedCheckpoints: number;
  /** Highest seq in the database (0 for an empty ledger). */
  readonly lastSeq: number;
  /** The largest tree size whose signed root the database still matches, with nothing contradicting it below. */
  readonly trustedUpTo: number;
  /** The first `maxProblems` problems, by tree size. */
  readonly problems: CheckpointProblem[];
  readonly moreProblems: number;
}

export interface VerifyCheckpointsOptions {
  /** Exported checkpoints to compare with (CHECKPOINT_EXPORT_DIR or the mirror). */
  readonly exported?: CheckpointSink;
  /** Entries read per page (default 5000). */
  readonly batchSize?: number;
  /** Problems listed (default 100). */
  readonly maxProblems?: number;
}

interface Side {
  readonly record: CheckpointRecord;
  readonly source: 'database' | 'export';
  /** The signed payload, when the signature verified and the record repeats it. */
  readonly signed: CheckpointPayload | null;
}

/**
 * Verifies the checkpoints (see the file comment) in one pass over the entries, inside one REPEATABLE READ,
 * READ ONLY snapshot. Memory grows with neither the ledger nor the number of checkpoints, only with the problems
 * listed. Throws only when it cannot verify (no database, unreadable export directory).
 */
export async function verifyCheckpoints(pool: Pool, jwks: JSONWebKeySet, options: VerifyCheckpointsOptions = {}): Promise<CheckpointVerifyReport> {
  const batchSize = options.batchSize ?? 5000;
  const maxProblems = options.maxProblems ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  if (!Number.isInteger(maxProblems) || maxProblems < 0) throw new RangeError('maxProblems must be a non-negative integer');
  const exportedSizes = options.exported ? await options.exported.sizes() : [];

  return inSnapshot(pool, (client) => new CheckpointVerifier(client, jwks, options.exported, exportedSizes, batchSize, maxProblems).run());
}

class CheckpointVerifier {
  private readonly problems: CheckpointProblem[] = [];
  private total = 0;
  private checked = 0;
  /** Lowest tree size at which the database contradicts a signed checkpoint. */
  private bound = Number.POSITIVE_INFINITY;
  private trusted = 0;
  private readonly acc = new MerkleAccumulator();
  private leaves: AsyncGenerator<LedgerRow> | null = null;
  /** Set when the entries stop being contiguous (a deleted entry): no root beyond it can be computed. */
  private gapAt: number | null = null;
  private exhausted = false;
  /** The last checkpoint with a valid signature: its size, signed root, and whether the database matched it. */
  private prev: { treeSize: number; root: Buffer; matched: boolean } | null = null;

  constructor(
    private readonly db: PoolClient,
    private readonly jwks: JSONWebKeySet,
    private readonly exported: CheckpointSink | undefined,
    private readonly exportedSizes: readonly number[],
    private readonly batchSize: number,
    private readonly maxProblems: number,
  ) {
  }

  private add(treeSize: number, problem: CheckpointProblemKind, detail: string, breaksTrust: boolean): void {
    this.total += 1;
    if (breaksTrust) this.bound = Math.min(this.bound, treeSize);
    if (this.problems.length < this.maxProblems) this.problems.push({ treeSize, problem, detail });
  }

  /** Pushes leaves until the tree has `size` of them, or the database has no more (contiguous) entries. */
  private async advanceTo(size: number): Promise<void> {
    while (this.acc.size < size && !this.exhausted && this.gapAt === null) {
      const next = await this.leaves?.next();
      if (!next) return;
      if (next.done) {
        this.exhausted = true;
        break;
      }
      const seq = seqOf(next.value);
      if (seq !== this.acc.size + 1) {
        this.gapAt = this.acc.size + 1;
        break;
      }
      // The leaf is the hash of the entry AS IT IS NOW (recomputed from its columns), not its stored entry_hash:
      // any change to any column of a sealed entry changes the root.
      this.acc.pushLeafData(ledgerLeafData(entryHash(toHashInput(next.value))));
    }
  }

  private async side(record: CheckpointRecord, source: Side['source']): Promise<Side> {
    const v = await verifyCheckpointJws(record.jws, this.jwks);
    if (!v.ok) {
      this.add(record.treeSize, 'bad_signature', `the ${source === 'database' ? 'database' : 'exported'} checkpoint is not trustworthy: ${v.error}`, false);
      return { record, source, signed: null };
    }
    const mismatch = recordMatchesPayload(record, v.value);
    if (mismatch) {
      this.add(record.treeSize, 'bad_signature', `the ${source === 'database' ? 'database' : 'exported'} checkpoint was edited: ${mismatch}`, false);
      return { record, source, signed: null };
    }
    return { record, source, signed: v.value.payload };
  }

  async run(): Promise<CheckpointVerifyReport> {
    const lastSeq = await lastSeqIn(this.db);
    const leaves = ledgerRows(this.db, 0, lastSeq, this.batchSize);
    this.leaves = leaves;
    let dbPage: CheckpointRecord[] = [];
    let dbIndex = 0;
    let dbAfter = 0;
    let dbDone = false;
    let exIndex = 0;
    const nextDb = async (): Promise<CheckpointRecord | null> => {
      if (dbIndex >= dbPage.length && !dbDone) {
        dbPage = await checkpointsAfter(this.db, dbAfter, 500);
        dbIndex = 0;
        if (dbPage.length === 0) dbDone = true;
        else dbAfter = (dbPage[dbPage.length - 1] as CheckpointRecord).treeSize;
      }
      return dbPage[dbIndex] ?? null;
    };

    for (;;) {
      const db = await nextDb();
      const ex = this.exportedSizes[exIndex];
      if (!db && ex === undefined) break;
      const size = Math.min(db?.treeSize ?? Number.POSITIVE_INFINITY, ex ?? Number.POSITIVE_INFINITY);
      const sides: Side[] = [];
      if (db && db.treeSize === size) {
        dbIndex += 1;
        sides.push(await this.side(db, 'database'));
      }
      if (ex === size) {
        exIndex += 1;
        let record: CheckpointRecord | null = null;
        try {
          record = this.exported ? await this.exported.get(size) : null;
        } catch (e) {
          this.add(size, 'bad_signature', `the exported checkpoint cannot be read: ${e instanceof Error ? e.message : String(e)}`, false);
        }
        if (record) sides.push(await this.side(record, 'export'));
      }
      this.checked += 1;
      await this.checkSize(size, sides);
    }
    const problems = [...this.problems].sort((a, b) => a.treeSize - b.treeSize);
    return {
      ok: this.total === 0,
      checkpointsChecked: this.checked,
      exportedCheckpoints: this.exportedSizes.length,
      lastSeq,
      trustedUpTo: this.trusted,
      problems,
      moreProblems: this.total - problems.length,
    };
  }

  private async checkSize(size: number, sides: readonly Side[]): Promise<void> {
    const dbSide = sides.find((s) => s.source === 'database');
    const exSide = sides.find((s) => s.source === 'export');
    const valid = sides.filter((s): s is Side & { signed: CheckpointPayload } => s.signed !== null);
    const first = valid[0];
    if (!first) return;

    // Two validly signed, different statements about one tree size: the signer forked history.
    if (valid.some((s) => s.signed.rootHash !== first.signed.rootHash)) {
      this.add(size, 'inconsistent', `the database and the export hold different signed roots for tree size ${size}`, true);
    }
    const signedRoot = fromHex(first.signed.rootHash);

    await this.advanceTo(size);
    let matched = false;
    const inDatabase = dbSide?.signed != null;
    if (this.acc.size < size) {
      const why = this.gapAt !== null ? `entry ${this.gapAt} is missing from the database` : `the database holds only ${this.acc.size} entries`;
      const where = inDatabase ? '' : ' in the export (no longer in the database)';
      this.add(size, 'rolled_back', `a checkpoint signed for ${size} entries exists${where}, but ${why}: the ledger was rolled back`, true);
    } else if (toHex(this.acc.root()) !== first.signed.rootHash) {
      if (inDatabase) {
        this.add(size, 'root_mismatch', `entries 1 to ${size} now in the database do not give the signed root: an entry this checkpoint covers was changed`, true);
      } else {
        this.add(size, 'rolled_back', `this exported checkpoint is no longer in the database, and entries 1 to ${size} there do not give its signed root: history was rewritten after it was signed`, true);
      }
    } else {
      matched = true;
      if (exSide?.signed && !inDatabase) {
        this.add(size, 'missing_in_database', dbSide ? 'the database copy of this exported checkpoint is not valid (its entries still match)' : 'this exported checkpoint was removed from the database (its entries still match)', false);
      }
    }

    // Consistency with the previous validly signed checkpoint: a carried RFC 9162 proof, or (without one) both
    // roots being roots of prefixes of the same entries.
    const prev = this.prev;
    if (prev) {
      const fromPrev = valid.map((s) => s.record.consistency).filter((c) => c !== null && c.fromTreeSize === prev.treeSize);
      let consistent: boolean | null = null;
      if (fromPrev.length > 0) {
        consistent = fromPrev.every((c) => c !== null && verifyConsistency(prev.treeSize, size, prev.root, signedRoot, c.proof.map(fromHex)));
      } else if (prev.matched && matched) {
        consistent = true;
      }
      if (consistent === false) {
        this.add(size, 'inconsistent', `the consistency proof from tree size ${prev.treeSize} to ${size} does not hold: these two signed checkpoints cannot both describe one append-only ledger`, true);
      }
    }
    if (matched && this.bound > size) this.trusted = size;
    this.prev = { treeSize: size, root: signedRoot, matched };
  }
}
