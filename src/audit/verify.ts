/**
 * Verifies the hash chain of the audit ledger, streaming: keyset pages of `batchSize` rows in seq order inside one
 * REPEATABLE READ, READ ONLY transaction (a consistent snapshot; appends may continue meanwhile). Memory does not
 * grow with the ledger, only with the number of problems found.
 *
 * For every row at seq s it recomputes `entryHash` (the same function the appender uses, ./ledger.ts), checks that
 * seq continues from 1 without gaps, and that prev_hash is the stored entry_hash of entry s-1 (genesis: 64 zeros).
 *
 * CLASSIFICATION (one problem per row, the most specific; consequences of an earlier problem are not repeated):
 *   missing     s is above the next expected seq: the entries in between were deleted (reported at the first
 *               missing seq). Also: an authentic entry moved DOWN to s whose original predecessor no longer
 *               exists — a deletion hidden by renumbering the later entries.
 *   reordered   the stored hash does not match the row at s, but DOES match the same row at another seq o (tried:
 *               the seq after the entry its prev_hash names, and s±64): an authentic entry moved from o to s
 *               (rows swapped or renumbered). Because seq is inside the hash, moving an entry always shows here.
 *   inserted    (a) the row's hash matches its content at s (someone who knows the algorithm computed it) but its
 *               prev_hash names an entry other than s-1: a forged entry chained onto the wrong place;
 *               (b) an authentic entry from o now sits at s > o while the row at o verified: the row at o took its
 *               place, so IT is reported as inserted.
 *   altered     the stored hash matches the row at no seq: its content (or its hash) was changed after recording.
 *   broken_link the row's hash matches its content at s but its prev_hash names no entry at all: either entry
 *               s-1 was rewritten with a recomputed hash, or this entry was forged. Since entry s-1 may be the
 *               rewritten one, trustedUpTo is s-2 for this problem.
 * A row whose predecessor was itself reported, or that follows a gap, is not reported again for its link.
 *
 * trustedUpTo: the last seq up to which the chain is proven intact (firstBadSeq - 1, or s-2 for a broken link).
 * What no chain can show: removal of the newest entries (compare lastSeq/lastHash with receipts handed out or a
 * published checkpoint).
 */
import type { Pool, PoolClient } from 'pg';
import { entryHash, GENESIS_HASH, type LedgerHashInput } from './entry';
import { LEDGER_COLUMNS, seqOf, toHashInput, type LedgerRow } from './rows';
import { inSnapshot } from '../db/tx';

export type LedgerProblemKind = 'altered' | 'missing' | 'reordered' | 'inserted' | 'broken_link';

export interface LedgerProblem {
  readonly seq: number;
  readonly problem: LedgerProblemKind;
  readonly detail: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly entriesChecked: number;
  /** Highest seq present (0 for an empty ledger). */
  readonly lastSeq: number;
  /** Its stored entry_hash (genesis for an empty ledger): anchor it outside the database. */
  readonly lastHash: string;
  readonly firstBadSeq?: number;
  /** Last seq up to which the chain is proven intact. */
  readonly trustedUpTo: number;
  /** The first `maxProblems` problems found, in seq order. */
  readonly problems: LedgerProblem[];
  /** How many more problems were found than are listed. */
  readonly moreProblems: number;
}

export interface VerifyOptions {
  onProgress?(checked: number, total: number): void;
  /** Rows per page (default 5000). */
  readonly batchSize?: number;
  /** Problems listed in the report (default 100). */
  readonly maxProblems?: number;
}

/** How far from its position a moved entry is looked for (besides where its prev_hash points). */
const MOVE_WINDOW = 64;

export async function verifyLedger(pool: Pool, options: VerifyOptions = {}): Promise<VerifyReport> {
  const batchSize = options.batchSize ?? 5000;
  const maxProblems = options.maxProblems ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  if (!Number.isInteger(maxProblems) || maxProblems < 0) throw new RangeError('maxProblems must be a non-negative integer');

  return inSnapshot(pool, async (client) => {
    const verifier = new ChainVerifier(client, maxProblems);
    const head = await client.query<{ max: string | null }>('SELECT max(seq)::text AS max FROM audit_ledger');
    const total = head.rows[0]?.max ? Number(head.rows[0].max) : 0;
    options.onProgress?.(0, total);
    let after = '0';
    for (;;) {
      const { rows } = await client.query<LedgerRow>(
        `SELECT ${LEDGER_COLUMNS} FROM audit_ledger WHERE seq > $1::bigint ORDER BY audit_ledger.seq LIMIT $2`,
        [after, batchSize],
      );
      for (const row of rows) await verifier.check(row);
      options.onProgress?.(verifier.checked, Math.max(total, verifier.checked));
      const last = rows[rows.length - 1];
      if (!last || rows.length < batchSize) break;
      after = last.seq;
    }
    return verifier.report();
  });
}

class ChainVerifier {
  checked = 0;
  private expected = 1;
  private prev: { seq: number; hash: string; flagged: boolean } | null = null;
  private readonly flagged = new Set<number>();
  private readonly problems: LedgerProblem[] = [];
  private total = 0;
  /** Lowest trustedUpTo implied by any problem so far. */
  private trustBound = Number.POSITIVE_INFINITY;
  private firstBad = Number.POSITIVE_INFINITY;

  constructor(
    private readonly db: PoolClient,
    private readonly maxProblems: number,
  ) {}

  /** Detailed classification (with look-ups) only while the listed problems are not full; later ones are counted. */
  private get detailed(): boolean {
    return this.problems.length < this.maxProblems;
  }

  private add(seq: number, problem: LedgerProblemKind, detail: string): void {
    this.flagged.add(seq);
    this.total += 1;
    this.firstBad = Math.min(this.firstBad, seq);
    this.trustBound = Math.min(this.trustBound, Math.max(0, problem === 'broken_link' ? seq - 2 : seq - 1));
    if (this.problems.length < this.maxProblems) this.problems.push({ seq, problem, detail });
  }

  private async seqWithHash(hash: string): Promise<number | null> {
    const { rows } = await this.db.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_ledger WHERE entry_hash = $1 LIMIT 1', [
      hash,
    ]);
    return rows[0] ? seqOf(rows[0]) : null;
  }

  /** The seq (other than the row's own) at which the row's content hashes to its stored entry_hash, if any. */
  private async originOf(input: LedgerHashInput, storedHash: string): Promise<number | null> {
    const s = input.seq;
    const candidates: number[] = [];
    if (input.prevHash === GENESIS_HASH) candidates.push(1);
    else {
      const q = await this.seqWithHash(input.prevHash);
      if (q !== null) candidates.push(q + 1);
    }
    for (let d = 1; d <= MOVE_WINDOW; d++) candidates.push(s - d, s + d);
    for (const o of candidates) {
      if (o >= 1 && o !== s && entryHash({ ...input, seq: o }) === storedHash) return o;
    }
    return null;
  }

  async check(row: LedgerRow): Promise<void> {
    const s = seqOf(row);
    this.checked += 1;
    const input = toHashInput(row);
    let flagged = false;

    const gapBefore = s > this.expected;
    if (gapBefore) {
      const first = this.expected;
      this.add(first, 'missing', s - first === 1 ? `entry ${first} is missing` : `entries ${first} to ${s - 1} are missing`);
    }

    const contentOk = entryHash(input) === row.entry_hash;
    const expectedPrev = s === 1 ? GENESIS_HASH : this.prev && this.prev.seq === s - 1 ? this.prev.hash : null;
    const linkOk = expectedPrev !== null && row.prev_hash === expectedPrev;

    if (!contentOk) {
      flagged = true;
      const origin = this.detailed ? await this.originOf(input, row.entry_hash) : null;
      if (origin === null) {
        this.add(s, 'altered', `entry ${s} does not match its stored hash: its content was changed after it was recorded`);
      } else if (origin > s && row.prev_hash !== GENESIS_HASH && (await this.seqWithHash(row.prev_hash)) === null) {
        this.add(
          s,
          'missing',
          `entry ${s} was recorded as seq ${origin}, and the entry it followed no longer exists: an entry was deleted and later entries renumbered`,
        );
      } else {
        this.add(s, 'reordered', `the entry at seq ${s} was recorded as seq ${origin}: entries were moved`);
        if (origin < s && !this.flagged.has(origin)) {
          this.add(
            origin,
            'inserted',
            `entry ${origin} is not the entry recorded at seq ${origin} (that one now sits at seq ${s}): it was inserted`,
          );
        }
      }
    } else if (!linkOk && !gapBefore && expectedPrev !== null && !this.prev?.flagged) {
      flagged = true;
      const q = this.detailed ? await this.seqWithHash(row.prev_hash) : null;
      if (q === null) {
        this.add(
          s,
          'broken_link',
          `entry ${s} follows a hash no entry has: entry ${s - 1} was rewritten with a recomputed hash, or entry ${s} was forged`,
        );
      } else {
        this.add(s, 'inserted', `entry ${s} has a valid hash but claims to follow entry ${q}, not ${s - 1}: it was forged and inserted`);
      }
    }

    this.prev = { seq: s, hash: row.entry_hash, flagged };
    this.expected = s + 1;
  }

  report(): VerifyReport {
    const lastSeq = this.prev?.seq ?? 0;
    const lastHash = this.prev?.hash ?? GENESIS_HASH;
    const problems = [...this.problems].sort((a, b) => a.seq - b.seq);
    const ok = this.total === 0;
    return {
      ok,
      entriesChecked: this.checked,
      lastSeq,
      lastHash,
      ...(ok ? {} : { firstBadSeq: this.firstBad }),
      trustedUpTo: ok ? lastSeq : Math.min(this.trustBound, this.firstBad - 1),
      problems,
      moreProblems: this.total - problems.length,
    };
  }
}
