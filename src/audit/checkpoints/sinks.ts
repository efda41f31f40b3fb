/**
 * Sinks: where checkpoints are copied outside the database (write-once files in CHECKPOINT_EXPORT_DIR and
 * CHECKPOINT_MIRROR_DIR), and the export of database checkpoints to them.
 */
import { link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { isHash } from '../merkle';
import type { CheckpointRecord, ExportedCheckpointFile } from './statement';
import type { Db } from '../../db/tx';
import { checkpointsAfter, ledgerLeaves } from './store';
import { SafeguardError } from '../../errors';

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
  /** The largest tree size held, or null (cheap: the sealer asks before every seal). */
  latestSize(): Promise<number | null>;
  /** The checkpoint held for a tree size, or null; throws if it is held but unreadable. */
  get(treeSize: number): Promise<CheckpointRecord | null>;
}

export class CheckpointSinkConflictError extends SafeguardError {
  readonly code = 'checkpoint_sink_conflict' as const;
}

const FILE_PATTERN = /^checkpoint-(\d{16})\.json$/;
const fileName = (treeSize: number): string => `checkpoint-${String(treeSize).padStart(16, '0')}.json`;

export function toExportFile(record: CheckpointRecord): ExportedCheckpointFile {
  return {
    type: 'sg-ledger-checkpoint',
    v: 1,
    ...record,
    consistency: record.consistency ? { fromTreeSize: record.consistency.fromTreeSize, proof: [...record.consistency.proof] } : null,
  };
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
  const note = typeof f.note === 'string' && f.note.length < 8192 ? f.note : null;
  const compactRange =
    Array.isArray(f.compactRange) && f.compactRange.length <= 64 && f.compactRange.every(isHash) ? (f.compactRange as string[]) : null;
  let entries: CheckpointRecord['entries'];
  if (typeof f.entries === 'object' && f.entries !== null && !Array.isArray(f.entries)) {
    const e = f.entries as Record<string, unknown>;
    if (
      typeof e.fromSeq === 'number' &&
      Number.isSafeInteger(e.fromSeq) &&
      e.fromSeq >= 1 &&
      Array.isArray(e.hashes) &&
      e.hashes.every(isHash)
    ) {
      entries = { fromSeq: e.fromSeq, hashes: e.hashes as string[] };
    }
  }
  return {
    treeSize: f.treeSize,
    rootHash: f.rootHash,
    lastEntryHash: f.lastEntryHash,
    signedAt: f.signedAt,
    kid: f.kid,
    jws: f.jws,
    consistency,
    note,
    compactRange,
    ...(entries ? { entries } : {}),
  };
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
    if (this.latest !== undefined && (this.latest === null || record.treeSize > this.latest)) this.latest = record.treeSize;
    // Make the new directory entry durable too (best effort: not every file system allows fsync on a directory).
    const dirHandle = await open(this.dir, 'r').catch(() => null);
    if (dirHandle)
      await dirHandle
        .sync()
        .catch(() => undefined)
        .finally(() => dirHandle.close());
  }

  /** The largest size this process has seen in the directory (listed once, then kept up to date by `put`). */
  private latest: number | null | undefined;

  async latestSize(): Promise<number | null> {
    if (this.latest === undefined) {
      const sizes = await this.sizes();
      this.latest = sizes[sizes.length - 1] ?? null;
    }
    return this.latest;
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
    let parsed: CheckpointRecord | null;
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

/** Exports every database checkpoint with tree size above `after` to `sink`, oldest first. */
export async function exportAfter(db: Db, sink: CheckpointSink, after: number, batchSize: number): Promise<number> {
  let exported = 0;
  let from = after;
  for (;;) {
    const page = await checkpointsAfter(db, from, Math.min(batchSize, 1000));
    for (const record of page) {
      await sink.put(await withEntries(db, record, batchSize));
      exported += 1;
    }
    const last = page[page.length - 1];
    if (!last) return exported;
    from = last.treeSize;
  }
}

/** Most entry hashes listed in one exported file (a first checkpoint over a long legacy ledger lists none). */
const MAX_LISTED_ENTRIES = 100_000;

/** The record with the hashes of the entries it sealed (since the previous checkpoint), for an exported file. */
async function withEntries(db: Db, record: CheckpointRecord, batchSize: number): Promise<CheckpointRecord> {
  const from = record.consistency?.fromTreeSize ?? 0;
  if (record.treeSize - from > MAX_LISTED_ENTRIES) return record;
  const hashes: string[] = [];
  for await (const leaf of ledgerLeaves(db, from, record.treeSize, batchSize)) hashes.push(leaf.entryHash);
  return hashes.length === record.treeSize - from ? { ...record, entries: { fromSeq: from + 1, hashes } } : record;
}

/**
 * Copies every database checkpoint a sink does not hold yet (e.g. a mirror added later, or one that was offline).
 * Never overwrites: a sink holding a different checkpoint for a size makes this throw.
 */
export async function exportAllCheckpoints(
  pool: Pool,
  sinks: readonly CheckpointSink[],
): Promise<Array<{ sink: string; exported: number }>> {
  const out: Array<{ sink: string; exported: number }> = [];
  for (const sink of sinks) {
    const held = new Set(await sink.sizes());
    let exported = 0;
    let from = 0;
    for (;;) {
      const page = await checkpointsAfter(pool, from, 1000);
      for (const record of page) {
        if (!held.has(record.treeSize)) {
          await sink.put(await withEntries(pool, record, 5000));
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
