/**
 * Receipts: proof, checkable by anybody holding only the gateway's published JWKS, that one audit entry is in the
 * ledger exactly as recorded.
 *
 * A sealed receipt carries the entry's id, seq and entry_hash, the signed checkpoint (compact JWS) of the latest
 * checkpoint, and the RFC 9162 inclusion proof of leaf seq-1 in that checkpoint's tree. `verifyReceipt` checks the
 * signature (jose, against the JWKS), recomputes the root from the leaf and the path, and compares it with the
 * signed root — no database, no trust in the gateway. Given the entry itself (as GET /v1/audit/entries/{id} shows
 * it), it also recomputes the entry_hash from the content, so the content is proven too.
 *
 * Before any checkpoint covers the entry, the receipt says so (`sealed: false`): ask again after the next seal.
 *
 * Building a proof reads only the leaves it needs: perfect subtrees met before (by the sealer or earlier proofs)
 * come from a SubtreeCache; the rest is streamed from the database. The proof is verified against the signed root
 * before it is handed out.
 */
import type { JSONWebKeySet } from 'jose';
import type { Pool } from 'pg';
import { err, ok, type Result, SafeguardError } from '../errors';
import { entryHash, type JsonValue } from './entry';
import { seqOf } from './rows';
import {
  checkpointCovering,
  cosignaturesFor,
  latestCheckpoint,
  ledgerLeaves,
  SubtreeCache,
  verifyCheckpointJws,
  type CheckpointRecord,
} from './checkpoints';
import type { Db } from '../db/tx';
import {
  assembleProof,
  fromHex,
  inclusionRanges,
  isHash,
  ledgerLeafData,
  ledgerLeafHash,
  MerkleAccumulator,
  proofPieces,
  subtreeKey,
  toHex,
  verifyInclusion,
  type Subtree,
} from './merkle';

export const RECEIPT_TYPE = 'sg-ledger-receipt';

interface ReceiptBase {
  readonly type: typeof RECEIPT_TYPE;
  readonly v: 1;
  readonly entryId: string;
  readonly seq: number;
  /** The entry's entry_hash, hex: the leaf data. */
  readonly entryHash: string;
}

export interface SealedReceipt extends ReceiptBase {
  readonly sealed: true;
  /** seq - 1. */
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly kid: string;
  readonly signedAt: string;
  /** The signed checkpoint (compact JWS, typ sg-checkpoint+jwt): the only authority in the receipt. */
  readonly checkpoint: string;
  /** RFC 9162 audit path of leaf `leafIndex` in the tree of `treeSize`, leaf side first, hex. */
  readonly inclusionProof: readonly string[];
  /** The same checkpoint as a C2SP signed note with the witnesses' cosignatures (null if it was sealed before notes). */
  readonly note: string | null;
}

export interface UnsealedReceipt extends ReceiptBase {
  readonly sealed: false;
  /** Tree size of the newest checkpoint (smaller than seq), or null if there is none yet. */
  readonly latestCheckpointTreeSize: number | null;
  readonly detail: string;
}

export type Receipt = SealedReceipt | UnsealedReceipt;

/** What a receipt is built for. */
export interface ProofSubject {
  readonly entryId: string;
  readonly seq: number;
  readonly entryHash: string;
  /** The agency whose principal made the entry (null for an unidentified caller): who else may see the receipt. */
  readonly agencyId: string | null;
}

/** The ledger contradicts its own signed checkpoint: the proof could not be made to verify. */
export class LedgerIntegrityError extends SafeguardError {
  readonly code = 'ledger_integrity' as const;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function findEntryForProof(pool: Pool, entryId: string): Promise<ProofSubject | null> {
  if (!UUID.test(entryId)) return null;
  const { rows } = await pool.query<{ seq: string; entry_id: string; entry_hash: string; agency_id: string | null }>(
    'SELECT seq::text AS seq, entry_id::text AS entry_id, entry_hash, agency_id FROM audit_ledger WHERE entry_id = $1::uuid',
    [entryId],
  );
  const row = rows[0];
  return row ? { entryId: row.entry_id, seq: seqOf(row), entryHash: row.entry_hash, agencyId: row.agency_id } : null;
}

export interface BuildReceiptOptions {
  /** The published key set: the checkpoint is verified before its proof is handed out. */
  readonly jwks: JSONWebKeySet;
  readonly cache?: SubtreeCache;
  /** Prove against the smallest checkpoint of at least this size instead of the latest. */
  readonly treeSize?: number;
  /** Entries read per page (default 5000). */
  readonly batchSize?: number;
}

/** A receipt for `subject` (see the file comment). Throws LedgerIntegrityError if the ledger no longer matches. */
export async function buildReceipt(pool: Pool, subject: ProofSubject, options: BuildReceiptOptions): Promise<Receipt> {
  const base: ReceiptBase = { type: RECEIPT_TYPE, v: 1, entryId: subject.entryId, seq: subject.seq, entryHash: subject.entryHash };
  const checkpoint =
    options.treeSize !== undefined ? await checkpointCovering(pool, Math.max(options.treeSize, subject.seq)) : await latestCheckpoint(pool);
  if (!checkpoint || checkpoint.treeSize < subject.seq) {
    const latest = checkpoint ?? (options.treeSize !== undefined ? await latestCheckpoint(pool) : null);
    return {
      ...base,
      sealed: false,
      latestCheckpointTreeSize: latest?.treeSize ?? null,
      detail: latest
        ? `Entry ${subject.seq} is not sealed yet: the newest checkpoint covers entries 1 to ${latest.treeSize}. Ask again after the next checkpoint.`
        : `Entry ${subject.seq} is not sealed yet: no checkpoint has been signed. Ask again after the first checkpoint.`,
    };
  }
  const verified = await verifyCheckpointJws(checkpoint.jws, options.jwks);
  if (!verified.ok) throw new LedgerIntegrityError(`checkpoint ${checkpoint.treeSize} is not valid: ${verified.error}`);
  const signed = verified.value.payload;
  if (signed.treeSize !== checkpoint.treeSize)
    throw new LedgerIntegrityError(`checkpoint ${checkpoint.treeSize} signs tree size ${signed.treeSize}`);

  const batchSize = options.batchSize ?? 5000;
  let proof = await inclusionPath(pool, subject.seq - 1, checkpoint.treeSize, options.cache, batchSize);
  const leaf = ledgerLeafHash(subject.entryHash);
  const root = fromHex(signed.rootHash);
  if (!verifyInclusion(subject.seq - 1, checkpoint.treeSize, leaf, proof, root) && options.cache) {
    // A cached subtree may predate a change that the database has since had undone: try once from the database alone.
    options.cache.clear();
    proof = await inclusionPath(pool, subject.seq - 1, checkpoint.treeSize, undefined, batchSize);
  }
  if (!verifyInclusion(subject.seq - 1, checkpoint.treeSize, leaf, proof, root)) {
    throw new LedgerIntegrityError(
      `entry ${subject.seq} cannot be proven against the signed checkpoint of ${checkpoint.treeSize} entries: the ledger was changed after it was sealed`,
    );
  }
  const cosigs = checkpoint.note ? await cosignaturesFor(pool, checkpoint.treeSize) : [];
  const note = checkpoint.note ? `${checkpoint.note}${cosigs.map((c) => c.cosignature).join('')}` : null;
  return sealedReceipt(base, checkpoint, signed.signedAt, verified.value.kid, proof, note);
}

function sealedReceipt(
  base: ReceiptBase,
  checkpoint: CheckpointRecord,
  signedAt: string,
  kid: string,
  proof: readonly Buffer[],
  note: string | null,
): SealedReceipt {
  return {
    ...base,
    sealed: true,
    leafIndex: base.seq - 1,
    treeSize: checkpoint.treeSize,
    rootHash: checkpoint.rootHash,
    kid,
    signedAt,
    checkpoint: checkpoint.jws,
    inclusionProof: proof.map(toHex),
    note,
  };
}

/** The audit path of `leafIndex` in the tree of `treeSize`, from cached subtrees and as few leaves as possible. */
export async function inclusionPath(
  db: Db,
  leafIndex: number,
  treeSize: number,
  cache: SubtreeCache | undefined,
  batchSize = 5000,
): Promise<Buffer[]> {
  const ranges = inclusionRanges(leafIndex, treeSize);
  const hashes = new Map<string, Buffer>();
  const missing: Subtree[] = [];
  for (const piece of proofPieces(ranges)) {
    const cached = cache?.get(piece);
    if (cached) hashes.set(subtreeKey(piece), cached);
    else missing.push(piece);
  }
  // Contiguous missing pieces are read in one stream; each piece has its own accumulator (its start is aligned).
  let i = 0;
  while (i < missing.length) {
    let j = i;
    while (j + 1 < missing.length && (missing[j + 1] as Subtree).start === end(missing[j] as Subtree)) j += 1;
    const group = missing.slice(i, j + 1);
    const from = (group[0] as Subtree).start;
    const to = end(group[group.length - 1] as Subtree);
    let k = 0;
    let acc = pieceAccumulator(group[0] as Subtree, cache);
    for await (const leaf of ledgerLeaves(db, from, to, batchSize)) {
      const index = leaf.seq - 1;
      const piece = group[k] as Subtree;
      if (index !== piece.start + acc.size)
        throw new LedgerIntegrityError(`entry ${piece.start + acc.size + 1} is missing from the ledger`);
      acc.pushLeafData(ledgerLeafData(leaf.entryHash));
      if (acc.size === 2 ** piece.level) {
        hashes.set(subtreeKey(piece), acc.root());
        k += 1;
        const next = group[k];
        if (next) acc = pieceAccumulator(next, cache);
      }
    }
    if (k !== group.length) throw new LedgerIntegrityError(`the ledger has fewer than ${to} entries`);
    i = j + 1;
  }
  return assembleProof(ranges, hashes);
}

const end = (s: Subtree): number => s.start + 2 ** s.level;

function pieceAccumulator(piece: Subtree, cache: SubtreeCache | undefined): MerkleAccumulator {
  return new MerkleAccumulator({ offset: piece.start, ...(cache ? { onSubtree: (s: Subtree, h: Buffer) => cache.remember(s, h) } : {}) });
}

// ---------------------------------------------------------------------------------------------------------------
// Offline verification

export interface VerifiedReceipt {
  readonly entryId: string;
  readonly seq: number;
  readonly entryHash: string;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly kid: string;
  readonly signedAt: string;
  /** True when the entry's content was given and hashes to entryHash. */
  readonly contentVerified: boolean;
}

function receiptShape(value: unknown): Result<SealedReceipt | UnsealedReceipt, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return err('the receipt is not a JSON object');
  const r = value as Record<string, unknown>;
  if (r.type !== RECEIPT_TYPE || r.v !== 1) return err(`this is not a ledger receipt (type ${RECEIPT_TYPE}, v 1)`);
  if (typeof r.entryId !== 'string' || !UUID.test(r.entryId)) return err('the receipt has no valid entryId');
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq < 1) return err('the receipt has no valid seq');
  if (!isHash(r.entryHash)) return err('the receipt has no valid entryHash');
  if (r.sealed === false) return ok(value as UnsealedReceipt);
  if (r.sealed !== true) return err('the receipt does not say whether it is sealed');
  if (typeof r.checkpoint !== 'string') return err('the receipt carries no signed checkpoint');
  if (!Array.isArray(r.inclusionProof) || r.inclusionProof.length > 64 || !r.inclusionProof.every(isHash))
    return err('the receipt carries no valid inclusion proof');
  return ok(value as SealedReceipt);
}

/**
 * The hash an entry shown by GET /v1/audit/entries/{id} must have (./ledger.ts entryHash over its stored columns),
 * or null if the object is not such an entry.
 */
export function entryHashOfView(view: unknown): string | null {
  if (typeof view !== 'object' || view === null || Array.isArray(view)) return null;
  const e = view as Record<string, unknown>;
  const str = (v: unknown): v is string => typeof v === 'string';
  const strOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || !str(e.entryId) || !str(e.recordedAt) || !str(e.kind) || !str(e.outcome))
    return null;
  if (!str(e.requestId) || !strOrNull(e.purpose) || !Array.isArray(e.rules) || !e.rules.every(str) || !isHash(e.prevHash)) return null;
  if (e.payload === undefined) return null;
  const recordedAt = new Date(e.recordedAt);
  if (Number.isNaN(recordedAt.getTime())) return null;
  let actor: Record<string, unknown> = {};
  if (e.actor !== null) {
    if (typeof e.actor !== 'object' || Array.isArray(e.actor)) return null;
    actor = e.actor as Record<string, unknown>;
  }
  const field = (name: string): string | null | undefined => {
    const v = actor[name] ?? null;
    return strOrNull(v) ? v : undefined;
  };
  const names = ['agencyId', 'agencyType', 'clientId', 'practitioner', 'role', 'issuer'] as const;
  const a = Object.fromEntries(names.map((n) => [n, field(n)])) as Record<(typeof names)[number], string | null | undefined>;
  if (names.some((n) => a[n] === undefined)) return null;
  try {
    return entryHash({
      seq: e.seq,
      entryId: e.entryId,
      recordedAt,
      kind: e.kind,
      outcome: e.outcome,
      requestId: e.requestId,
      agencyId: a.agencyId ?? null,
      agencyType: a.agencyType ?? null,
      clientId: a.clientId ?? null,
      practitioner: a.practitioner ?? null,
      role: a.role ?? null,
      issuer: a.issuer ?? null,
      purpose: e.purpose,
      rules: e.rules,
      payload: e.payload as JsonValue,
      prevHash: e.prevHash,
    });
  } catch {
    return null;
  }
}

/**
 * Verifies a receipt with nothing but the published JWKS (and optionally the entry as shown by the API). Never
 * throws; a refusal says why in words.
 */
export async function verifyReceipt(
  receipt: unknown,
  jwks: JSONWebKeySet,
  options: { entry?: unknown } = {},
): Promise<Result<VerifiedReceipt, string>> {
  const shape = receiptShape(receipt);
  if (!shape.ok) return shape;
  const r = shape.value;
  if (!r.sealed)
    return err(`entry ${r.seq} was not sealed when this receipt was issued: ask the gateway for a new receipt after the next checkpoint`);
  const signed = await verifyCheckpointJws(r.checkpoint, jwks);
  if (!signed.ok) return err(`the checkpoint in the receipt is not trustworthy: ${signed.error}`);
  const p = signed.value.payload;
  if (r.treeSize !== undefined && r.treeSize !== p.treeSize)
    return err(`the receipt says tree size ${r.treeSize} but its checkpoint signs ${p.treeSize}`);
  if (r.rootHash !== undefined && r.rootHash !== p.rootHash) return err("the receipt's root hash is not the one its checkpoint signs");
  if (r.leafIndex !== undefined && r.leafIndex !== r.seq - 1) return err("the receipt's leaf index is not seq - 1");
  if (r.seq > p.treeSize) return err(`entry ${r.seq} is beyond the checkpoint's ${p.treeSize} entries`);
  const proof = r.inclusionProof.map(fromHex);
  if (!verifyInclusion(r.seq - 1, p.treeSize, ledgerLeafHash(r.entryHash), proof, fromHex(p.rootHash))) {
    return err(`the inclusion proof does not lead from entry ${r.seq} (hash ${r.entryHash}) to the signed root of ${p.treeSize} entries`);
  }
  let contentVerified = false;
  if (options.entry !== undefined) {
    const h = entryHashOfView(options.entry);
    if (h === null) return err('the entry given is not an audit entry as GET /v1/audit/entries/{id} shows it');
    const e = options.entry as { entryId?: unknown; seq?: unknown };
    if (e.entryId !== r.entryId || e.seq !== r.seq) return err('the entry given is not the entry this receipt is for');
    if (h !== r.entryHash)
      return err(`the entry given hashes to ${h}, not to the receipt's ${r.entryHash}: its content differs from what was recorded`);
    contentVerified = true;
  }
  return ok({
    entryId: r.entryId,
    seq: r.seq,
    entryHash: r.entryHash,
    treeSize: p.treeSize,
    rootHash: p.rootHash,
    kid: signed.value.kid,
    signedAt: p.signedAt,
    contentVerified,
  });
}
