/**
 * Witnesses (C2SP tlog-witness): independent services, on other hosts and run by other organisations, that cosign a
 * checkpoint only if it is consistent with every checkpoint of this log they cosigned before. Once a witness holds
 * a cosigned tree size, a database (and export directory) rewritten or rolled back behind it can no longer match.
 *
 * LEDGER_WITNESSES lists them: `<url> <cosignature/v1 verifier key>` pairs, comma-separated. After every seal the
 * gateway sends the new checkpoint to each (POST <url>/add-checkpoint: `old <size>`, the consistency proof from that
 * size as base64 lines, a blank line, the signed note) and stores the cosignature line it returns (after checking it)
 * in ledger_cosignatures. A 409 answer names the size the witness holds: the proof is rebuilt from there.
 * Verification reads each witness's latest cosigned checkpoint back (GET <url>/checkpoint?origin=…, an extension:
 * tlog-witness defines no read API).
 */
import type { Pool } from 'pg';
import {
  assembleProof,
  compactRangeSubtrees,
  consistencyRanges,
  fromHex,
  ledgerLeafData,
  MerkleAccumulator,
  proofPieces,
  subtreeKey,
  verifyConsistency,
} from '../merkle';
import type { SubtreeCache } from '../subtree-cache';
import { parseCheckpointBody, parseNote, parseVerifierKey, verifyCosignature, ALG_COSIGNATURE_V1, type NoteVerifier } from './note';
import type { CheckpointRecord } from './statement';
import { checkpointAt, insertCosignature, lastCosignedBy, ledgerLeaves } from './store';
import type { Db } from '../../db/tx';

export type AddCheckpointAnswer =
  | { readonly kind: 'cosigned'; readonly line: string }
  | { readonly kind: 'conflict'; readonly size: number }
  | { readonly kind: 'refused'; readonly status: number; readonly detail: string };

export class WitnessClient {
  readonly name: string;
  readonly verifier: NoteVerifier;

  constructor(
    readonly url: string,
    vkey: string,
    private readonly timeoutMs = 5000,
  ) {
    const v = parseVerifierKey(vkey);
    if (!v || v.alg !== ALG_COSIGNATURE_V1) throw new Error(`"${vkey}" is not a witness's cosignature/v1 verifier key`);
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`a witness URL must be http(s), got ${url}`);
    this.url = url.replace(/\/+$/, '');
    this.verifier = v;
    this.name = v.name;
  }

  async addCheckpoint(oldSize: number, proof: readonly Buffer[], note: string): Promise<AddCheckpointAnswer> {
    const body = `old ${oldSize}\n${proof.map((p) => `${p.toString('base64')}\n`).join('')}\n${note}`;
    const res = await fetch(`${this.url}/add-checkpoint`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (res.status === 200) return { kind: 'cosigned', line: text };
    if (res.status === 409 && (res.headers.get('content-type') ?? '').startsWith('text/x.tlog.size') && /^\d{1,16}\n?$/.test(text)) {
      return { kind: 'conflict', size: Number(text.trim()) };
    }
    return { kind: 'refused', status: res.status, detail: text.slice(0, 300).trim() || res.statusText };
  }

  /** The witness's latest cosigned checkpoint of `origin` (note + its cosignature), or null if it holds none. */
  async latest(origin: string): Promise<string | null> {
    const res = await fetch(`${this.url}/checkpoint?origin=${encodeURIComponent(origin)}`, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (res.status === 404) return null;
    if (res.status !== 200) throw new Error(`witness ${this.name} answered ${res.status}`);
    return res.text();
  }
}

/** Parses LEDGER_WITNESSES (`<url> <vkey>[,<url> <vkey>…]`). */
export function parseWitnessList(text: string | undefined): WitnessClient[] {
  if (!text?.trim()) return [];
  return text.split(',').map((item) => {
    const [url, vkey, ...rest] = item.trim().split(/\s+/);
    if (!url || !vkey || rest.length > 0) throw new Error(`LEDGER_WITNESSES: "${item.trim()}" is not "<url> <verifier key>"`);
    return new WitnessClient(url, vkey);
  });
}

/** A cosignature line by `w` over a checkpoint body, checked; null if it does not verify. */
export function checkCosignatureLine(body: string, line: string, w: NoteVerifier): string | null {
  const parsed = parseNote(`${body}\n${line.endsWith('\n') ? line : `${line}\n`}`);
  const sig = parsed?.signatures[0];
  if (!parsed || parsed.signatures.length !== 1 || !sig) return null;
  return verifyCosignature(body, sig, w) === null ? null : sig.line;
}

/**
 * The RFC 9162 consistency proof from tree size `oldSize` to `to`: the old tree's side is its compact range (from
 * its checkpoint row, else re-read), the new side is read from entries oldSize+1..to — O(to - oldSize + log n).
 * Checked against both roots before it is returned; throws if the database cannot give it.
 */
export async function consistencyProofFromDb(
  db: Db,
  oldSize: number,
  oldRootHex: string,
  to: CheckpointRecord,
  cache?: SubtreeCache,
  batchSize = 5000,
): Promise<Buffer[]> {
  if (oldSize === to.treeSize) return [];
  const ranges = consistencyRanges(oldSize, to.treeSize);
  const needed = new Set(proofPieces(ranges).map(subtreeKey));
  const pieces = new Map<string, Buffer>();
  const onSubtree = (s: { start: number; level: number }, h: Buffer): void => {
    if (needed.has(subtreeKey(s))) pieces.set(subtreeKey(s), h);
    cache?.remember(s, h);
  };
  const from = await checkpointAt(db, oldSize);
  let acc: MerkleAccumulator;
  if (from?.compactRange && from.rootHash === oldRootHex) {
    const range = from.compactRange.map(fromHex);
    acc = MerkleAccumulator.resume(oldSize, range, { onSubtree });
    compactRangeSubtrees(oldSize).forEach((s, i) => onSubtree(s, range[i] as Buffer));
  } else {
    acc = new MerkleAccumulator({ onSubtree });
    for await (const leaf of ledgerLeaves(db, 0, oldSize, batchSize)) acc.pushLeafData(ledgerLeafData(leaf.entryHash));
  }
  for await (const leaf of ledgerLeaves(db, oldSize, to.treeSize, batchSize)) acc.pushLeafData(ledgerLeafData(leaf.entryHash));
  const proof = assembleProof(ranges, pieces);
  if (!verifyConsistency(oldSize, to.treeSize, fromHex(oldRootHex), fromHex(to.rootHash), proof)) {
    throw new Error(`the database cannot prove tree size ${to.treeSize} consistent with tree size ${oldSize}`);
  }
  return proof;
}

export interface WitnessOutcome {
  readonly witness: string;
  readonly outcome: 'cosigned' | 'refused' | 'unreachable';
  readonly detail: string;
}

/** Sends a sealed checkpoint to every witness and stores the cosignatures (see the file comment). Never throws. */
export async function witnessCheckpoint(
  pool: Pool,
  record: CheckpointRecord,
  witnesses: readonly WitnessClient[],
  options: { cache?: SubtreeCache; batchSize?: number } = {},
): Promise<WitnessOutcome[]> {
  const note = record.note;
  if (!note) return witnesses.map((w) => ({ witness: w.name, outcome: 'refused', detail: 'the checkpoint has no signed note' }));
  const body = parseNote(note)?.text;
  if (!body || !parseCheckpointBody(body))
    return witnesses.map((w) => ({ witness: w.name, outcome: 'refused', detail: 'the checkpoint note is malformed' }));
  return Promise.all(
    witnesses.map(async (w): Promise<WitnessOutcome> => {
      try {
        let oldSize = await lastCosignedBy(pool, w.name);
        if (oldSize === record.treeSize)
          return { witness: w.name, outcome: 'cosigned', detail: `already cosigned tree size ${record.treeSize}` };
        for (let attempt = 0; attempt < 3; attempt++) {
          if (oldSize > record.treeSize) {
            return {
              witness: w.name,
              outcome: 'refused',
              detail: `the witness has cosigned ${oldSize} entries, more than this checkpoint's ${record.treeSize}: the ledger was rolled back`,
            };
          }
          const old = oldSize > 0 ? await checkpointAt(pool, oldSize) : null;
          if (oldSize > 0 && !old) {
            return {
              witness: w.name,
              outcome: 'refused',
              detail: `the witness holds tree size ${oldSize}, for which the database has no checkpoint: the ledger was rolled back or rewritten`,
            };
          }
          const proof = old ? await consistencyProofFromDb(pool, oldSize, old.rootHash, record, options.cache, options.batchSize) : [];
          const answer = await w.addCheckpoint(oldSize, proof, note);
          if (answer.kind === 'cosigned') {
            const line = checkCosignatureLine(body, answer.line, w.verifier);
            if (!line)
              return { witness: w.name, outcome: 'refused', detail: 'the witness answered with a cosignature that does not verify' };
            await insertCosignature(pool, { treeSize: record.treeSize, witness: w.name, cosignature: line });
            return { witness: w.name, outcome: 'cosigned', detail: `cosigned tree size ${record.treeSize}` };
          }
          if (answer.kind === 'refused')
            return {
              witness: w.name,
              outcome: 'refused',
              detail: `the witness refused the checkpoint (${answer.status}): ${answer.detail}`,
            };
          if (answer.size === oldSize)
            return { witness: w.name, outcome: 'refused', detail: `the witness answered 409 for its own size ${oldSize}` };
          oldSize = answer.size;
        }
        return { witness: w.name, outcome: 'refused', detail: 'the witness kept answering 409' };
      } catch (e) {
        return { witness: w.name, outcome: 'unreachable', detail: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
}
