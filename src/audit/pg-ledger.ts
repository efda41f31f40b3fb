/**
 * The PostgreSQL audit ledger writer: every disclosure decision, refusal and audit read is appended here and
 * COMMITTED before any answer leaves the gateway (invariant 1). What an entry is, and its hash, is ./entry.ts.
 *
 * Group commit: concurrent `append` calls queue up; one flush at a time per process takes up to `maxBatch` queued
 * entries and writes them in ONE transaction (src/db/tx.ts):
 *
 *   BEGIN; SET LOCAL synchronous_commit = on; SET LOCAL statement_timeout; SELECT pg_advisory_xact_lock(LEDGER_LOCK_KEY)
 *   → read the last (seq, entry_hash) → chain the batch → one multi-row INSERT → COMMIT (checked) → resolve every waiter.
 *
 * The advisory lock serialises appenders across processes sharing the database; within a process the queue does.
 * Under load more entries wait while a flush is in flight, so the next batch is bigger: throughput grows with load
 * while every caller still waits for the COMMIT of its own entry. On any error the batch is rolled back and every
 * waiter in it is rejected with `AuditUnavailableError` (nothing of that batch is stored).
 */
import type { Pool, PoolClient } from 'pg';
import { transaction } from '../db/tx';
import {
  AuditUnavailableError,
  entryHash,
  GENESIS_HASH,
  prepareEntry,
  type AppendedEntry,
  type AuditLedger,
  type NewAuditEntry,
  type PreparedEntry,
} from './entry';
import { LEDGER_COLUMN_NAMES, LEDGER_INSERT_CASTS, type LedgerColumn } from './rows';
import { entryMac, type EntryMacKey } from './entry-mac';

/** pg_advisory_xact_lock key that serialises ledger appenders across processes ("sg-audit" in ASCII). */
export const LEDGER_LOCK_KEY = '7378432305101449588';

export interface PgAuditLedgerOptions {
  /** Most entries written by one transaction (default 256). */
  readonly maxBatch?: number;
  /** Longest wait for a pooled connection, and statement_timeout for each statement of a flush (including the lock wait), in ms (default 10 000): a stuck database fails closed. */
  readonly timeoutMs?: number;
  /** Largest accepted payload as JSON (default 64 KiB). */
  readonly maxPayloadBytes?: number;
  /** Writes each entry's MAC (./entry-mac.ts) with it, so the sealer can tell the gateway's entries from forged ones. */
  readonly macKey?: EntryMacKey;
}

interface Waiter {
  readonly entry: PreparedEntry;
  readonly resolve: (appended: AppendedEntry) => void;
  readonly reject: (error: AuditUnavailableError) => void;
}

/** Bind parameters per statement are limited to 65 535. */
const MAX_BATCH_LIMIT = Math.floor(65_535 / (LEDGER_COLUMN_NAMES.length + 1));

export class PgAuditLedger implements AuditLedger {
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly maxPayloadBytes: number;
  private readonly macKey: EntryMacKey | undefined;
  private queue: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    options: PgAuditLedgerOptions = {},
  ) {
    const { maxBatch = 256, timeoutMs = 10_000, maxPayloadBytes = 64 * 1024 } = options;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > MAX_BATCH_LIMIT) {
      throw new RangeError(`maxBatch must be an integer from 1 to ${MAX_BATCH_LIMIT}`);
    }
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs must be a positive integer');
    if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 2) throw new RangeError('maxPayloadBytes must be a positive integer');
    this.maxBatch = maxBatch;
    this.timeoutMs = timeoutMs;
    this.maxPayloadBytes = maxPayloadBytes;
    this.macKey = options.macKey;
  }

  append(entry: NewAuditEntry): Promise<AppendedEntry> {
    if (this.closed) return Promise.reject(new AuditUnavailableError('the audit ledger is closed', 'closed'));
    let prepared: PreparedEntry;
    try {
      prepared = prepareEntry(entry, this.maxPayloadBytes);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : 'invalid entry';
      return Promise.reject(new AuditUnavailableError(`audit entry refused: ${why}`, 'invalid_entry', { cause }));
    }
    return new Promise<AppendedEntry>((resolve, reject) => {
      this.queue.push({ entry: prepared, resolve, reject });
      this.kick();
    });
  }

  /** Refuses new appends and resolves once every queued and in-flight entry is settled. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
      // An append may have queued between the drain loop's last check and now.
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      await this.flush(batch);
    }
  }

  /** Writes one batch in one transaction and settles every waiter in it. Never throws. */
  private async flush(batch: Waiter[]): Promise<void> {
    const fail = (cause: unknown): void => {
      const error = new AuditUnavailableError(
        `could not commit ${batch.length} audit entr${batch.length === 1 ? 'y' : 'ies'}: ${cause instanceof Error ? cause.message : String(cause)}`,
        'database',
        { cause },
      );
      for (const w of batch) w.reject(error);
    };
    let client: PoolClient;
    try {
      client = await this.connect();
    } catch (cause) {
      fail(cause);
      return;
    }
    let results: AppendedEntry[];
    try {
      // statement_timeout also bounds the wait for the advisory lock: a stuck appender elsewhere fails us closed.
      results = await transaction(
        client,
        (c) =>
          this.writeBatch(
            c,
            batch.map((w) => w.entry),
          ),
        {
          synchronousCommit: true,
          statementTimeoutMs: this.timeoutMs,
          advisoryLock: LEDGER_LOCK_KEY,
        },
      );
    } catch (cause) {
      // The connection's state is unknown after a failure: destroy it rather than return it to the pool.
      client.release(cause instanceof Error ? cause : true);
      fail(cause);
      return;
    }
    client.release();
    batch.forEach((w, i) => w.resolve(results[i] as AppendedEntry));
  }

  /** A pooled connection within timeoutMs (a pool exhausted by other work must not hold callers forever). */
  private connect(): Promise<PoolClient> {
    return new Promise<PoolClient>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`no database connection within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pool.connect().then(
        (client) => {
          clearTimeout(timer);
          if (timedOut) client.release();
          else resolve(client);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  private async writeBatch(client: PoolClient, entries: readonly PreparedEntry[]): Promise<AppendedEntry[]> {
    // A new statement, so a new snapshot taken after the lock: it sees the previous holder's committed entries.
    // recorded_at comes from the database clock (one clock for every process) and never goes backwards in seq.
    const last = await client.query<{ seq: string | null; entry_hash: string | null; now: Date }>(
      `SELECT l.seq::text AS seq, l.entry_hash,
              GREATEST(date_trunc('milliseconds', clock_timestamp()), l.recorded_at) AS now
         FROM (SELECT 1) AS one
         LEFT JOIN LATERAL (SELECT seq, entry_hash, recorded_at FROM audit_ledger ORDER BY seq DESC LIMIT 1) AS l ON true`,
    );
    const head = last.rows[0];
    if (!head) throw new Error('could not read the head of the ledger');
    let seq = head.seq === null ? 0 : Number(head.seq);
    let prevHash = head.entry_hash ?? GENESIS_HASH;
    const recordedAt = head.now;
    if (!Number.isSafeInteger(seq + entries.length)) throw new Error('ledger seq is beyond the safe integer range');

    const params: unknown[] = [];
    const tuples: string[] = [];
    const results: AppendedEntry[] = [];
    for (const e of entries) {
      seq += 1;
      const hash = entryHash({ ...e, seq, recordedAt, prevHash });
      const values: Record<LedgerColumn, unknown> = {
        seq: String(seq),
        entry_id: e.entryId,
        recorded_at: recordedAt.toISOString(),
        kind: e.kind,
        outcome: e.outcome,
        request_id: e.requestId,
        agency_id: e.agencyId,
        agency_type: e.agencyType,
        client_id: e.clientId,
        practitioner: e.practitioner,
        role: e.role,
        issuer: e.issuer,
        purpose: e.purpose,
        rules: e.rules,
        payload: e.payloadJson,
        prev_hash: prevHash,
        entry_hash: hash,
      };
      // entry_mac is not hashed (it authenticates the hash), so it is not one of the LedgerRow columns.
      const mac = `$${params.push(this.macKey ? entryMac(this.macKey, hash) : null)}`;
      tuples.push(`(${LEDGER_COLUMN_NAMES.map((c) => `$${params.push(values[c])}${LEDGER_INSERT_CASTS[c]}`).join(', ')}, ${mac})`);
      results.push({ seq, entryId: e.entryId, entryHash: hash, prevHash, recordedAt });
      prevHash = hash;
    }
    await client.query(`INSERT INTO audit_ledger (${LEDGER_COLUMN_NAMES.join(', ')}, entry_mac) VALUES ${tuples.join(', ')}`, params);
    return results;
  }
}
