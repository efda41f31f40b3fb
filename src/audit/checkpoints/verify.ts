/**
 * Verifying the checkpoints against the entries now in the database and EVERY copy outside it (one streaming pass):
 * the database's own checkpoints, each copy directory (CHECKPOINT_EXPORT_DIR, CHECKPOINT_MIRROR_DIR) and each
 * witness's latest cosigned checkpoint (LEDGER_WITNESSES). Every statement is merged in tree-size order; each must be
 * validly signed (the JWS by the ledger key; a witness's note by the gateway's note key AND cosigned by that witness),
 * its root must be the root of the entries now in the database, and consecutive ones must be consistent.
 *
 * With witnesses configured, a checkpoint is trusted only if at least `quorum` witnesses cosigned it or a later one
 * the database still matches (`cosignedUpTo`). A database and export directory rewritten together still contradict
 * the witness, which holds its own copy on another host.
 *
 * NAMING THE ENTRY: when the entries no longer give a signed root, the first differing entry lies after the last
 * checkpoint that still matches. A copy's file lists the entry hashes it seals (authenticated: with the previous
 * checkpoint's compact range they must fold to the signed root), so with a copy the first entry that differs is named
 * exactly; without one, the range between the two checkpoints is (with 1-second seals, a second's worth of entries).
 */
import type { JSONWebKeySet } from 'jose';
import type { Pool, PoolClient } from 'pg';
import { entryHash } from '../entry';
import { seqOf, toHashInput, type LedgerRow } from '../rows';
import { inSnapshot } from '../../db/tx';
import { compactRangeRoot, fromHex, ledgerLeafData, MerkleAccumulator, toHex, verifyConsistency } from '../merkle';
import { recordMatchesPayload, verifyCheckpointJws, type CheckpointRecord } from './statement';
import type { CheckpointSink } from './sinks';
import { checkpointsAfter, cosignaturesBetween, lastSeqIn, ledgerRows, ledgerRowsWithMac, macStartSeq } from './store';
import { entryMacValid, type EntryMacKey } from '../entry-mac';
import { openNote, parseCheckpointBody, parseNote, type NoteVerifier } from './note';
import { checkCosignatureLine, type WitnessClient } from './witnesses';

export type {
  CheckpointProblem,
  CheckpointProblemKind,
  CheckpointVerifyReport,
  VerifyCheckpointsOptions,
  WitnessReport,
} from './verify-report';
import type { CheckpointProblem, CheckpointProblemKind, CheckpointVerifyReport, VerifyCheckpointsOptions } from './verify-report';

interface SignedRoot {
  readonly treeSize: number;
  readonly rootHash: string;
}

interface Side {
  /** `database`, `copy:<sink name>` or `witness:<name>`. */
  readonly source: string;
  readonly record: (CheckpointRecord & { readonly cosignatures?: readonly string[] }) | null;
  readonly signed: SignedRoot | null;
}

interface Copy {
  readonly sink: CheckpointSink;
  readonly sizes: readonly number[];
  index: number;
}

interface WitnessHeld {
  readonly name: string;
  readonly signed: SignedRoot | null;
  matches: boolean;
}

/**
 * Verifies the checkpoints (see the file comment) in one pass over the entries, inside one REPEATABLE READ,
 * READ ONLY snapshot. Memory grows with neither the ledger nor the number of checkpoints, only with the problems
 * listed. Throws only when it cannot verify (no database, unreadable export directory).
 */
export async function verifyCheckpoints(
  pool: Pool,
  jwks: JSONWebKeySet,
  options: VerifyCheckpointsOptions = {},
): Promise<CheckpointVerifyReport> {
  const batchSize = options.batchSize ?? 5000;
  const maxProblems = options.maxProblems ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  if (!Number.isInteger(maxProblems) || maxProblems < 0) throw new RangeError('maxProblems must be a non-negative integer');
  const sinks = [...(options.exported ? [options.exported] : []), ...(options.copies ?? [])].filter(
    (s, i, all) => all.findIndex((o) => o.name === s.name) === i,
  );
  const copies: Copy[] = [];
  for (const sink of sinks) copies.push({ sink, sizes: await sink.sizes(), index: 0 });
  const verifier = new CheckpointVerifier(jwks, copies, batchSize, maxProblems, options.quorum ?? 0, options.macKey);
  await verifier.askWitnesses(options.witnesses ?? [], options.noteVerifiers ?? [], options.origin);
  return inSnapshot(pool, (client) => verifier.run(client));
}

class CheckpointVerifier {
  private readonly problems: CheckpointProblem[] = [];
  private total = 0;
  private checked = 0;
  /** Lowest tree size at which the database contradicts a signed checkpoint. */
  private bound = Number.POSITIVE_INFINITY;
  private trusted = 0;
  private readonly acc = new MerkleAccumulator();
  private leaves: AsyncGenerator<LedgerRow & { entry_mac?: string | null }> | null = null;
  /** Set when the entries stop being contiguous (a deleted entry): no root beyond it can be computed. */
  private gapAt: number | null = null;
  private exhausted = false;
  /** The last checkpoint with a valid signature: its size, signed root, and whether the database matched it. */
  private prev: { treeSize: number; root: Buffer; matched: boolean } | null = null;
  private lastMatched = 0;
  /** The first contradicted checkpoint and the last matching one before it. */
  private firstMismatch: { after: number; at: number } | null = null;
  private readonly held: WitnessHeld[] = [];
  private clients: readonly WitnessClient[] = [];
  /** Per witness: the largest tree size it cosigned (its own copy, or a line stored with the checkpoint) that the database matches. */
  private readonly confirmed = new Map<string, number>();

  constructor(
    private readonly jwks: JSONWebKeySet,
    private readonly copies: readonly Copy[],
    private readonly batchSize: number,
    private readonly maxProblems: number,
    private readonly quorum: number,
    private readonly macKey: EntryMacKey | undefined,
  ) {}

  private macFrom = Number.POSITIVE_INFINITY;

  private add(treeSize: number, problem: CheckpointProblemKind, detail: string, breaksTrust: boolean): void {
    this.total += 1;
    if (breaksTrust) this.bound = Math.min(this.bound, treeSize);
    if (this.problems.length < this.maxProblems) this.problems.push({ treeSize, problem, detail });
  }

  /** Reads each witness's latest cosigned checkpoint and checks both signatures on it. */
  async askWitnesses(
    witnesses: readonly WitnessClient[],
    noteVerifiers: readonly NoteVerifier[],
    origin: string | undefined,
  ): Promise<void> {
    this.clients = witnesses;
    for (const w of witnesses) {
      let note: string | null;
      try {
        note = await w.latest(origin ?? noteVerifiers[0]?.name ?? '');
      } catch (e) {
        this.add(0, 'witness_unreachable', `witness ${w.name} could not be asked: ${e instanceof Error ? e.message : String(e)}`, false);
        this.held.push({ name: w.name, signed: null, matches: false });
        continue;
      }
      if (note === null) {
        this.held.push({ name: w.name, signed: null, matches: false });
        continue;
      }
      const opened = openNote(note, noteVerifiers);
      const body = opened ? parseCheckpointBody(opened.parsed.text) : null;
      const cosig = parseNote(note)?.signatures.find((s) => s.name === w.name);
      const cosigned = opened && cosig ? checkCosignatureLine(opened.parsed.text, cosig.line, w.verifier) : null;
      if (!body || !cosigned) {
        this.add(
          body?.treeSize ?? 0,
          'bad_signature',
          `witness ${w.name} holds a checkpoint that is not ${body ? 'cosigned by it' : "signed by the gateway's note key"}`,
          false,
        );
        this.held.push({ name: w.name, signed: null, matches: false });
        continue;
      }
      this.held.push({ name: w.name, signed: { treeSize: body.treeSize, rootHash: body.rootHash }, matches: false });
    }
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
      const hash = entryHash(toHashInput(next.value));
      if (this.macKey && seq > this.macFrom && !entryMacValid(this.macKey, hash, next.value.entry_mac ?? null)) {
        this.add(
          seq,
          'forged_entry',
          `entry ${seq} does not carry the gateway's MAC for what it says now: it was changed after the gateway wrote it, or the gateway never wrote it`,
          true,
        );
      }
      this.acc.pushLeafData(ledgerLeafData(hash));
    }
  }

  private async side(record: CheckpointRecord & { cosignatures?: readonly string[] }, source: string): Promise<Side> {
    const where = source === 'database' ? 'database checkpoint' : `exported checkpoint in ${source.slice(5)}`;
    const v = await verifyCheckpointJws(record.jws, this.jwks);
    if (!v.ok) {
      this.add(record.treeSize, 'bad_signature', `the ${where} is not trustworthy: ${v.error}`, false);
      return { record, source, signed: null };
    }
    const mismatch = recordMatchesPayload(record, v.value);
    if (mismatch) {
      this.add(record.treeSize, 'bad_signature', `the ${where} was edited: ${mismatch}`, false);
      return { record, source, signed: null };
    }
    return { record, source, signed: { treeSize: v.value.payload.treeSize, rootHash: v.value.payload.rootHash } };
  }

  async run(db: PoolClient): Promise<CheckpointVerifyReport> {
    const lastSeq = await lastSeqIn(db);
    if (this.macKey) this.macFrom = await macStartSeq(db);
    this.leaves = this.macKey ? ledgerRowsWithMac(db, 0, lastSeq, this.batchSize) : ledgerRows(db, 0, lastSeq, this.batchSize);
    let dbPage: Array<CheckpointRecord & { cosignatures?: readonly string[] }> = [];
    let dbIndex = 0;
    let dbAfter = 0;
    let dbDone = false;
    const nextDb = async (): Promise<CheckpointRecord | null> => {
      if (dbIndex >= dbPage.length && !dbDone) {
        dbPage = await checkpointsAfter(db, dbAfter, 500);
        if (this.clients.length > 0 && dbPage.length > 0) {
          const lines = await cosignaturesBetween(db, dbAfter, (dbPage[dbPage.length - 1] as CheckpointRecord).treeSize);
          dbPage = dbPage.map((c) => ({ ...c, cosignatures: lines.get(c.treeSize) ?? [] }));
        }
        dbIndex = 0;
        if (dbPage.length === 0) dbDone = true;
        else dbAfter = (dbPage[dbPage.length - 1] as CheckpointRecord).treeSize;
      }
      return dbPage[dbIndex] ?? null;
    };
    const witnessSizes = [...new Set(this.held.flatMap((h) => (h.signed ? [h.signed.treeSize] : [])))].sort((a, b) => a - b);
    let wIndex = 0;

    for (;;) {
      const dbNext = await nextDb();
      const candidates = [dbNext?.treeSize, witnessSizes[wIndex], ...this.copies.map((c) => c.sizes[c.index])].filter(
        (s): s is number => s !== undefined,
      );
      if (candidates.length === 0) break;
      const size = Math.min(...candidates);
      const sides: Side[] = [];
      if (dbNext && dbNext.treeSize === size) {
        dbIndex += 1;
        sides.push(await this.side(dbNext, 'database'));
      }
      for (const copy of this.copies) {
        if (copy.sizes[copy.index] !== size) continue;
        copy.index += 1;
        let record: CheckpointRecord | null = null;
        try {
          record = await copy.sink.get(size);
        } catch (e) {
          this.add(
            size,
            'bad_signature',
            `the checkpoint in ${copy.sink.name} cannot be read: ${e instanceof Error ? e.message : String(e)}`,
            false,
          );
        }
        if (record) sides.push(await this.side(record, `copy:${copy.sink.name}`));
      }
      if (witnessSizes[wIndex] === size) {
        wIndex += 1;
        for (const h of this.held)
          if (h.signed?.treeSize === size) sides.push({ source: `witness:${h.name}`, record: null, signed: h.signed });
      }
      this.checked += 1;
      await this.checkSize(size, sides);
    }
    // Entries after the last checkpoint: their MACs are checked too (an entry forged before the next seal).
    if (this.macKey) await this.advanceTo(lastSeq);
    if (this.firstMismatch) await this.nameFirstDifference(db);
    return this.report(lastSeq);
  }

  private confirm(witness: string, size: number): void {
    this.confirmed.set(witness, Math.max(this.confirmed.get(witness) ?? 0, size));
  }

  private report(lastSeq: number): CheckpointVerifyReport {
    let cosignedUpTo: number | undefined;
    let trusted = this.trusted;
    if (this.quorum > 0) {
      const confirmed = [...this.confirmed.values()].filter((size) => size < this.bound).sort((a, b) => b - a);
      cosignedUpTo = confirmed[this.quorum - 1] ?? 0;
      if (cosignedUpTo < trusted) {
        this.add(
          trusted,
          'not_witnessed',
          cosignedUpTo === 0
            ? `no checkpoint has the ${this.quorum} witness cosignature${this.quorum === 1 ? '' : 's'} required: checkpoints up to ${trusted} are signed by the gateway only`
            : `checkpoints after tree size ${cosignedUpTo} have fewer than the ${this.quorum} witness cosignature${this.quorum === 1 ? '' : 's'} required`,
          false,
        );
      }
      trusted = Math.min(trusted, cosignedUpTo);
    }
    const problems = [...this.problems].sort((a, b) => a.treeSize - b.treeSize);
    return {
      ok: this.total === 0,
      checkpointsChecked: this.checked,
      exportedCheckpoints: this.copies.reduce((n, c) => n + c.sizes.length, 0),
      lastSeq,
      trustedUpTo: trusted,
      ...(cosignedUpTo !== undefined ? { cosignedUpTo } : {}),
      quorum: this.quorum,
      witnesses: this.held.map((h) => ({ witness: h.name, treeSize: h.signed?.treeSize ?? null, matches: h.matches })),
      ...(this.named !== undefined ? { firstDifferingEntry: this.named } : {}),
      ...(this.named === undefined && this.firstMismatch
        ? { differingRange: { from: this.firstMismatch.after + 1, to: this.firstMismatch.at } }
        : {}),
      problems,
      moreProblems: this.total - problems.length,
    };
  }

  private named: number | undefined;

  /**
   * The first entry after the last matching checkpoint that is not what a copy says was sealed. The copy's entry
   * hashes are trusted only if they, continued from the previous checkpoint's compact range, give the signed root.
   */
  private async nameFirstDifference(db: PoolClient): Promise<void> {
    const { after, at } = this.firstMismatch as { after: number; at: number };
    for (const copy of this.copies) {
      const file = await copy.sink.get(at).catch(() => null);
      const before = after > 0 ? await copy.sink.get(after).catch(() => null) : null;
      if (!file?.entries || file.entries.fromSeq !== after + 1 || file.entries.hashes.length !== at - after) continue;
      const signedAt = await verifyCheckpointJws(file.jws, this.jwks);
      const signedBefore = before ? await verifyCheckpointJws(before.jws, this.jwks) : null;
      if (!signedAt.ok || (before && (!signedBefore?.ok || !before.compactRange))) continue;
      const range = before?.compactRange?.map(fromHex) ?? [];
      if (before && signedBefore?.ok && toHex(compactRangeRoot(range)) !== signedBefore.value.payload.rootHash) continue;
      const acc = MerkleAccumulator.resume(after, range);
      for (const h of file.entries.hashes) acc.pushLeafData(ledgerLeafData(h));
      if (toHex(acc.root()) !== signedAt.value.payload.rootHash) continue;
      let seq = after;
      for await (const row of ledgerRows(db, after, at, this.batchSize)) {
        const expected = file.entries.hashes[seq - after];
        seq += 1;
        if (seqOf(row) !== seq || entryHash(toHashInput(row)) !== expected) {
          this.named = seq;
          return;
        }
      }
      if (seq < at) this.named = seq + 1;
      return;
    }
    if (at === after + 1) this.named = at;
  }

  private async checkSize(size: number, sides: readonly Side[]): Promise<void> {
    const dbSide = sides.find((s) => s.source === 'database');
    const valid = sides.filter((s): s is Side & { signed: SignedRoot } => s.signed !== null);
    const first = valid[0];
    if (!first) return;
    const others = (s: Side): string =>
      s.source.startsWith('witness:') ? `witness ${s.source.slice(8)}` : s.source === 'database' ? 'the database' : s.source.slice(5);

    // Two validly signed, different statements about one tree size: the signer forked history.
    const differing = valid.find((s) => s.signed.rootHash !== first.signed.rootHash);
    if (differing) {
      this.add(size, 'inconsistent', `${others(first)} and ${others(differing)} hold different signed roots for tree size ${size}`, true);
    }
    const signedRoot = fromHex(first.signed.rootHash);

    await this.advanceTo(size);
    let matched = false;
    const inDatabase = dbSide?.signed != null;
    const holders = valid
      .filter((s) => s.source !== 'database')
      .map(others)
      .join(', ');
    if (this.acc.size < size) {
      const why =
        this.gapAt !== null ? `entry ${this.gapAt} is missing from the database` : `the database holds only ${this.acc.size} entries`;
      const where = inDatabase ? '' : ` in ${holders} (no longer in the database)`;
      this.add(size, 'rolled_back', `a checkpoint signed for ${size} entries exists${where}, but ${why}: the ledger was rolled back`, true);
    } else if (toHex(this.acc.root()) !== first.signed.rootHash) {
      this.firstMismatch ??= { after: this.lastMatched, at: size };
      if (inDatabase) {
        this.add(
          size,
          'root_mismatch',
          `entries 1 to ${size} now in the database do not give the signed root: an entry this checkpoint covers was changed`,
          true,
        );
      } else {
        this.add(
          size,
          'rolled_back',
          `the checkpoint of ${size} entries held by ${holders} is no longer in the database, and entries 1 to ${size} there do not give its signed root: history was rewritten after it was signed`,
          true,
        );
      }
    } else {
      matched = true;
      this.lastMatched = size;
      const root = toHex(this.acc.root());
      // Cosignatures stored with the database's checkpoint count too (a DBA may delete them, never forge them).
      const note = dbSide && dbSide.signed?.rootHash === root ? dbSide.record?.note : null;
      if (dbSide && note && this.clients.length > 0) {
        const body = parseNote(note)?.text;
        for (const line of dbSide.record?.cosignatures ?? []) {
          const c = this.clients.find((w) => body && checkCosignatureLine(body, line, w.verifier));
          if (c) this.confirm(c.name, size);
        }
      }
      for (const s of valid) {
        if (!s.source.startsWith('witness:') || s.signed.rootHash !== root) continue;
        const h = this.held.find((x) => `witness:${x.name}` === s.source);
        if (h) h.matches = true;
        if (h) this.confirm(h.name, size);
      }
      const copySide = valid.find((s) => s.source.startsWith('copy:'));
      if (copySide && !inDatabase) {
        this.add(
          size,
          'missing_in_database',
          dbSide
            ? 'the database copy of this exported checkpoint is not valid (its entries still match)'
            : 'this exported checkpoint was removed from the database (its entries still match)',
          false,
        );
      }
    }

    // Consistency with the previous validly signed checkpoint: a carried RFC 9162 proof, or (without one) both
    // roots being roots of prefixes of the same entries.
    const prev = this.prev;
    if (prev) {
      const fromPrev = valid.map((s) => s.record?.consistency ?? null).filter((c) => c !== null && c.fromTreeSize === prev.treeSize);
      let consistent: boolean | null = null;
      if (fromPrev.length > 0) {
        consistent = fromPrev.every(
          (c) => c !== null && verifyConsistency(prev.treeSize, size, prev.root, signedRoot, c.proof.map(fromHex)),
        );
      } else if (prev.matched && matched) {
        consistent = true;
      }
      if (consistent === false) {
        this.add(
          size,
          'inconsistent',
          `the consistency proof from tree size ${prev.treeSize} to ${size} does not hold: these two signed checkpoints cannot both describe one append-only ledger`,
          true,
        );
      }
    }
    if (matched && this.bound > size) this.trusted = size;
    this.prev = { treeSize: size, root: signedRoot, matched };
  }
}

/** What verification compares with, as the gateway is configured (built once by the composition root or a CLI). */
export interface VerifyContext {
  readonly pool: Pool;
  readonly keys: { jwks(): JSONWebKeySet; noteVerifiers(): NoteVerifier[]; readonly origin: string };
  /** The export directory and the mirror. */
  readonly sinks: readonly CheckpointSink[];
  readonly witnesses?: readonly WitnessClient[];
  readonly quorum?: number;
  readonly macKey?: EntryMacKey;
}

/** Verifies against every copy the configuration names: the database, each sink, each witness. */
export function verifyWith(
  ctx: VerifyContext,
  options: Pick<VerifyCheckpointsOptions, 'batchSize' | 'maxProblems'> = {},
): Promise<CheckpointVerifyReport> {
  return verifyCheckpoints(ctx.pool, ctx.keys.jwks(), {
    ...options,
    copies: ctx.sinks,
    witnesses: ctx.witnesses ?? [],
    quorum: ctx.quorum ?? 0,
    noteVerifiers: ctx.keys.noteVerifiers(),
    origin: ctx.keys.origin,
    ...(ctx.macKey ? { macKey: ctx.macKey } : {}),
  });
}
