/**
 * Verifying the checkpoints against the entries now in the database and the exported copies (one streaming pass).
 */
import type { JSONWebKeySet } from 'jose';
import type { Pool, PoolClient } from 'pg';
import { entryHash } from '../entry';
import { seqOf, toHashInput, type LedgerRow } from '../rows';
import { inSnapshot } from '../../db/tx';
import { fromHex, ledgerLeafData, MerkleAccumulator, toHex, verifyConsistency } from '../merkle';
import { recordMatchesPayload, verifyCheckpointJws, type CheckpointPayload, type CheckpointRecord } from './statement';
import type { CheckpointSink } from './sinks';
import { checkpointsAfter, lastSeqIn, ledgerRows } from './store';


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
