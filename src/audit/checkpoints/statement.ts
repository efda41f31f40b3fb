/**
 * The signed statement of a checkpoint: its payload, how it is signed (ES256 compact JWS with the gateway's `ledger`
 * key) and checked, and the error sealing raises when the ledger contradicts what was signed before.
 */
import { CompactSign, compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type { SigningKey } from '../../keys/gateway-keys';
import { err, ok, SafeguardError, type Result } from '../../errors';
import { isHash } from '../merkle';

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
  /** The same checkpoint as a C2SP signed note (./note.ts), signed by the gateway's note key; null before notes existed. */
  readonly note: string | null;
  /**
   * The compact range of the tree (./merkle.ts), hex, leftmost first; null before it was kept. Needs no signature: it
   * must fold to the signed root.
   */
  readonly compactRange: readonly string[] | null;
  /**
   * In exported copies only: the entry hashes this checkpoint sealed (entries fromSeq..treeSize), so verification can
   * name the first entry that differs. Authenticated by folding them onto the previous compact range to the signed root.
   */
  readonly entries?: { readonly fromSeq: number; readonly hashes: readonly string[] };
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
  if (protectedHeader.typ !== CHECKPOINT_TYP)
    return err(`its typ is ${JSON.stringify(protectedHeader.typ ?? null)}, not ${CHECKPOINT_TYP}`);
  if (typeof protectedHeader.kid !== 'string') return err('it names no key id');
  const parsed = parsePayload(payload);
  if (!parsed) return err('its signed payload is not a checkpoint of this ledger');
  return ok({ payload: parsed, kid: protectedHeader.kid });
}

/** A record whose fields repeat its signed payload exactly (a DBA may edit the columns but cannot re-sign). */
export function recordMatchesPayload(record: CheckpointRecord, v: VerifiedCheckpoint): string | null {
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

export type CheckpointErrorCode = 'rolled_back' | 'inconsistent' | 'bad_signature' | 'chain_broken' | 'missing_entries' | 'forged_entry';

/** Sealing was refused because the ledger (or its checkpoints) is not what was signed before. Nothing was signed. */
export class CheckpointError extends SafeguardError {
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(message);
  }
}
