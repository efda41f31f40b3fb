/**
 * The PostgreSQL audit ledger writer: every disclosure decision, refusal and audit read is appended here and
 * COMMITTED before any answer leaves the gateway (invariant 1). What an entry is, and its hash, is ./entry.ts.
 *
 * Group commit: concurrent `append` calls queue up; a flush takes up to `maxBatch` queued entries and writes them at
 * once, one of two ways. At most two batches of a process are on the wire: while one commits, the next may be sent
 * the one-round-trip way, chained onto the head the first leaves — PostgreSQL checks, after the lock, that the first
 * committed (else the second stores nothing and goes the locked way). Each batch's waiters are settled when its own
 * COMMIT succeeded, never before.
 *
 *   - ONE ROUND TRIP, when this process wrote the last batch (or has it on the wire): the batch is chained onto that
 *     batch's last entry and written by ONE autocommit statement that takes the advisory lock first (INSERT_ON_KNOWN_HEAD; the connection
 *     has synchronous_commit = on and the statement timeout). If another appender wrote since, the batch's first seq
 *     and prev_hash are taken: PRIMARY KEY and UNIQUE refuse the statement whole, nothing is stored, and the batch
 *     is written the second way. It also stores nothing, and the batch goes the second way, when that entry is no
 *     longer the head with that hash (deleted or rewritten by hand) or this process's clock is more than a second
 *     from the database's. recorded_at is then this process's clock, never before its predecessor's.
 *     After a refusal it stays on the second way while another appender writes too (its head read after the lock is
 *     not this process's own last entry), and comes back once it finds its own entry at the head again.
 *   - THREE ROUND TRIPS otherwise (the first batch, after another appender, after any error), in ONE transaction
 *     (src/db/tx.ts):
 *       BEGIN; SET LOCAL synchronous_commit = on; SET LOCAL statement_timeout; SELECT pg_advisory_xact_lock(KEY);
 *       read the last (seq, entry_hash) and the database clock   — one round trip, the read after the lock
 *       → chain the batch (hashes and MACs) → one INSERT … SELECT FROM ROWS FROM (unnest(column arrays)) → COMMIT
 *       (checked).
 *
 * Where the time goes, and what keeps it small (bench: `npm run bench -- --ledger-only`):
 *   - what does not depend on the chain (validation, the payload's canonical JSON, the hash preimage around seq,
 *     time and predecessor, each column's array-literal cell) is made in `append`, by the caller, once per entry;
 *     the flush only hashes, MACs and joins;
 *   - commit latency is overlapped with the next batch: the next batch is on the wire while the one before commits,
 *     so PostgreSQL is not idle while this process chains, sends and settles (ledger/plain with `--ledger-only`
 *     went from 56-62 % to 68-85 % on the 2-core bench machine);
 *   - one statement text for every batch size (column arrays, the payloads as one jsonb array): PostgreSQL parses
 *     a handful of parameters instead of 18 per entry.
 */
import type { Pool, PoolClient } from 'pg';
import { transaction, type OpeningResult } from '../db/tx';
import {
  AuditUnavailableError,
  GENESIS_HASH,
  hashFromParts,
  prepareEntry,
  type AppendedEntry,
  type AuditLedger,
  type NewAuditEntry,
  type PreparedEntry,
} from './entry';
import {
  INSERT_BATCH,
  INSERT_BATCH_NAME,
  INSERT_ON_KNOWN_HEAD,
  INSERT_ON_KNOWN_HEAD_NAME,
  LEDGER_LOCK_KEY,
  READ_HEAD,
  STATIC_COLUMNS,
  staticCells,
  type HeadRow,
} from './ledger-statements';
import { entryMac, type EntryMacKey } from './entry-mac';

export { LEDGER_LOCK_KEY } from './ledger-statements';

export interface PgAuditLedgerOptions {
  /** Most entries written by one transaction (default 256). */
  readonly maxBatch?: number;
  /**
   * Longest wait for a pooled connection, and statement_timeout for each statement of a flush (including the lock
   * wait), in ms (default 10 000): a stuck database fails closed.
   */
  readonly timeoutMs?: number;
  /** Largest accepted payload as JSON (default 64 KiB). */
  readonly maxPayloadBytes?: number;
  /** Writes each entry's MAC (./entry-mac.ts) with it, so the sealer can tell the gateway's entries from forged ones. */
  readonly macKey?: EntryMacKey;
}

interface Waiter {
  readonly entry: PreparedEntry;
  /** The entry's cells for STATIC_COLUMNS, in that order (`cell`). */
  readonly cells: readonly string[];
  readonly resolve: (appended: AppendedEntry) => void;
  readonly reject: (error: AuditUnavailableError) => void;
}

/** At most this many batches on the wire: the next is sent, chained onto the head the first leaves, while it commits. */
const MAX_IN_FLIGHT = 2;

/** The last entry this process wrote, if it was the last entry of the ledger when written. */
interface Head {
  readonly seq: number;
  readonly entryHash: string;
  readonly recordedAt: Date;
}

function headOf(results: readonly AppendedEntry[]): Head | null {
  const last = results[results.length - 1];
  return last ? { seq: last.seq, entryHash: last.entryHash, recordedAt: last.recordedAt } : null;
}

/** A refusal of INSERT_ON_KNOWN_HEAD because the head moved: its first seq or prev_hash exists already (23505). */
function isStaleHead(cause: unknown): boolean {
  return typeof cause === 'object' && cause !== null && (cause as { code?: unknown }).code === '23505';
}

/** Most entries in one batch: bounded so that one transaction stays short and one statement's arrays stay small. */
const MAX_BATCH_LIMIT = 4096;

export class PgAuditLedger implements AuditLedger {
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly maxPayloadBytes: number;
  private readonly macKey: EntryMacKey | undefined;
  private queue: Waiter[] = [];
  /** Batches sent and not yet settled (at most MAX_IN_FLIGHT). */
  private inFlight = 0;
  /**
   * The head the newest batch on the wire leaves once it commits, set once that batch is sent the one-statement
   * way: the next batch may chain onto it at once (null: the next batch waits for the wire to be empty).
   */
  private wireHead: Head | null = null;
  /** The last entry this process committed (either way), to tell whether anybody else appended since. */
  private lastWritten: Head | null = null;
  /** Whether the next batch chains onto `lastWritten` without reading the head (false: read it, after the lock). */
  private chainOnOwn = false;
  /** Connections already given the ledger's session settings (synchronous_commit, statement_timeout). */
  private readonly configured = new WeakSet<PoolClient>();
  /** Settling of committed batches, held until the next batch is on the wire (`release`). */
  private held: Array<() => void> = [];
  private readonly whenIdle: Array<() => void> = [];
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
    let cells: string[];
    try {
      prepared = prepareEntry(entry, this.maxPayloadBytes);
      cells = staticCells(prepared);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : 'invalid entry';
      return Promise.reject(new AuditUnavailableError(`audit entry refused: ${why}`, 'invalid_entry', { cause }));
    }
    return new Promise<AppendedEntry>((resolve, reject) => {
      this.queue.push({ entry: prepared, cells, resolve, reject });
      this.kick();
    });
  }

  /** Refuses new appends and resolves once every queued and in-flight entry is settled. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.inFlight === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.whenIdle.push(resolve));
  }

  /**
   * Starts the next batch if it may go now, and says whether it started one:
   *   - when nothing is on the wire: chained onto this process's own last entry if `chainOnOwn`, else the locked way;
   *   - while one batch is on the wire, sent the one-statement way: only a FULL batch (maxBatch entries waiting), chained
   *     onto the head the one on the wire leaves (`wireHead`). Waiting would not make it bigger, only later. A batch
   *     that is not full waits, and grows, while the one before commits: more entries per commit (group commit).
   * A committed batch's callers are answered once the next batch is on the wire (or at once if none is started):
   * their work, and their next appends, overlap PostgreSQL's.
   */
  private kick(): boolean {
    let started = false;
    while (this.queue.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      let after: Head | null;
      if (this.inFlight === 0) after = this.chainOnOwn ? this.lastWritten : null;
      else if (this.wireHead && this.queue.length >= this.maxBatch) after = this.wireHead;
      else break;
      this.chainOnOwn = false;
      this.wireHead = null;
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight += 1;
      started = true;
      void this.flush(batch, after)
        // flush never throws; were it to, its callers are refused rather than left waiting, and the writer goes on.
        .catch((cause: unknown) => rejectBatch(batch, cause))
        .then((committed) => {
          this.inFlight -= 1;
          if (committed) this.held.push(committed);
          if (!this.kick()) this.release();
          if (this.inFlight === 0 && this.queue.length === 0) for (const done of this.whenIdle.splice(0)) done();
        });
    }
    return started;
  }

  /** Answers the callers of every committed batch held back until now. */
  private release(): void {
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    for (const settleBatch of held) settleBatch();
  }

  /**
   * What this process committed last: `head`, unless it had already committed a later seq (two batches on the wire
   * may settle out of order). An equal seq replaces it: the entry it had was deleted by hand and the seq written again.
   */
  private written(head: Head | null): void {
    if (head && (this.lastWritten === null || head.seq >= this.lastWritten.seq)) this.lastWritten = head;
  }

  /**
   * Writes one batch, chained onto `after` the one-statement way if given (falling back to the locked way when that
   * head is not the ledger's), else the locked way. Once it is COMMITTED, returns what resolves its waiters; if it
   * could not be, rejects them and returns null. Releases what is held (`release`) once its INSERT is on the wire,
   * or when it fails first. Never throws.
   */
  private async flush(batch: Waiter[], after: Head | null): Promise<(() => void) | null> {
    const fail = (cause: unknown): null => {
      this.release();
      return rejectBatch(batch, cause);
    };
    let client: PoolClient;
    try {
      client = await this.connect();
    } catch (cause) {
      return fail(cause);
    }
    if (after) {
      let sent: Head | null = null;
      try {
        const results = await this.insertOnKnownHead(client, batch, after, (head) => {
          // On the wire: the next batch may chain onto the head this one leaves, while this one commits.
          sent = head;
          this.wireHead = head;
          this.release();
          this.kick();
        });
        if (results) {
          client.release();
          this.written(headOf(results));
          if (this.inFlight === 1) this.chainOnOwn = true;
          return () => settle(batch, results);
        }
        // The head is not the one this batch chains onto (deleted or rewritten by hand, or the batch before it on
        // the wire did not commit), or this clock is off: nothing was stored. The batch goes the locked way, on
        // the head read after the lock, on the same (idle) connection.
      } catch (cause) {
        if (!isStaleHead(cause)) {
          if (this.wireHead === sent) this.wireHead = null;
          client.release(cause instanceof Error ? cause : true);
          return fail(cause);
        }
        // Another appender wrote since: nothing of this batch was stored (the statement failed as a whole). Chain it
        // onto the head read after the lock instead, on the same (idle) connection.
      }
      // Nothing may chain onto what this batch would have left.
      if (this.wireHead === sent) this.wireHead = null;
    }
    let written: { results: AppendedEntry[]; alone: boolean };
    try {
      // statement_timeout also bounds the wait for the advisory lock: a stuck appender elsewhere fails us closed.
      written = await transaction(client, (c, opening) => this.writeBatch(c, batch, opening, () => this.release()), {
        synchronousCommit: true,
        statementTimeoutMs: this.timeoutMs,
        advisoryLock: LEDGER_LOCK_KEY,
        // Read in the same round trip, after the lock: it sees the previous holder's committed entries.
        openingQuery: READ_HEAD,
      });
    } catch (cause) {
      // The connection's state is unknown after a failure: destroy it rather than return it to the pool.
      client.release(cause instanceof Error ? cause : true);
      return fail(cause);
    }
    client.release();
    const { results } = written;
    this.written(headOf(results));
    // While another appender is writing too, a one-statement batch would mostly be refused (and cost a round trip
    // for nothing): chain without reading the head only once this process finds its own entry at the head again.
    if (this.inFlight === 1) this.chainOnOwn = written.alone;
    return () => settle(batch, results);
  }

  /**
   * The one-round-trip path: the batch chained onto `head`, in ONE autocommit statement that takes the advisory
   * lock, then checks (on a snapshot taken after the lock) that `head` is committed, before it inserts a row
   * (INSERT_ON_KNOWN_HEAD). `onWire` is told the head the batch leaves, once the statement is sent. Returns null when
   * the statement stored nothing because that head is not in the ledger with that hash, or this process's clock is
   * off; throws 23505 (`isStaleHead`) when anybody appended after it. recorded_at is this process's clock, never
   * before its predecessor's.
   */
  private async insertOnKnownHead(
    client: PoolClient,
    batch: readonly Waiter[],
    head: Head,
    onWire: (leaves: Head) => void,
  ): Promise<AppendedEntry[] | null> {
    if (!this.configured.has(client)) {
      // Session settings of the ledger's own connections (its pool is its own): what the locked path sets per transaction.
      await client.query(`SET synchronous_commit = on; SET statement_timeout = ${this.timeoutMs}`);
      this.configured.add(client);
    }
    const recordedAt = new Date(Math.max(Date.now(), head.recordedAt.getTime()));
    const { params, results } = this.chain(batch, head.seq + 1, head.entryHash, recordedAt);
    const insert = client.query({ name: INSERT_ON_KNOWN_HEAD_NAME, text: INSERT_ON_KNOWN_HEAD, values: params });
    const leaves = headOf(results);
    if (leaves) onWire(leaves);
    const { rowCount } = await insert;
    if (rowCount === batch.length) return results;
    if (rowCount === 0) return null;
    // One statement inserts all of its rows or none: anything else is a database that does not behave.
    throw new Error(`the ledger stored ${String(rowCount)} of a batch of ${batch.length}`);
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

  /**
   * Chains the batch onto the head read after the lock and inserts it, telling `onWire` once the INSERT is sent;
   * says whether the head was this process's own last entry (nobody else appending).
   */
  private async writeBatch(
    client: PoolClient,
    batch: readonly Waiter[],
    opening: OpeningResult,
    onWire: () => void,
  ): Promise<{ results: AppendedEntry[]; alone: boolean }> {
    const head = opening.rows[0] as HeadRow | undefined;
    if (!head) throw new Error('could not read the head of the ledger');
    // Nobody appended since this process's last entry (or it has written none yet: it assumes so until refused).
    const mine = this.lastWritten;
    const alone = mine === null || (head.seq !== null && Number(head.seq) === mine.seq && head.entry_hash === mine.entryHash);
    const first = head.seq === null ? 1 : Number(head.seq) + 1;
    const recordedAt = head.now;
    if (!Number.isSafeInteger(first + batch.length)) throw new Error('ledger seq is beyond the safe integer range');
    const { params, results } = this.chain(batch, first, head.entry_hash ?? GENESIS_HASH, recordedAt);
    const insert = client.query({ name: INSERT_BATCH_NAME, text: INSERT_BATCH, values: params });
    onWire();
    await insert;
    return { results, alone };
  }

  /** The batch chained from `first` after `prevHash` at `recordedAt`: the INSERT's parameters and each entry's result. */
  private chain(batch: readonly Waiter[], first: number, after: string, recordedAt: Date): { params: unknown[]; results: AppendedEntry[] } {
    let prevHash = after;
    const n = batch.length;
    const payloads = new Array<string>(n);
    const columns = STATIC_COLUMNS.map(() => new Array<string>(n));
    const prevHashes = new Array<string>(n);
    const hashes = new Array<string>(n);
    const macs = new Array<string>(n);
    const results = new Array<AppendedEntry>(n);
    for (let i = 0; i < n; i++) {
      const { entry: e, cells } = batch[i] as Waiter;
      const seq = first + i;
      const hash = hashFromParts(e.hashParts, seq, recordedAt, prevHash);
      payloads[i] = e.payloadJson;
      for (let c = 0; c < columns.length; c++) (columns[c] as string[])[i] = cells[c] as string;
      // Hex digits need no quoting.
      prevHashes[i] = `"${prevHash}"`;
      hashes[i] = `"${hash}"`;
      macs[i] = this.macKey ? `"${entryMac(this.macKey, hash)}"` : 'NULL';
      results[i] = { seq, entryId: e.entryId, entryHash: hash, prevHash, recordedAt };
      prevHash = hash;
    }
    const literal = (cells: string[]): string => `{${cells.join(',')}}`;
    const params = [
      first,
      recordedAt,
      `[${payloads.join(',')}]`,
      ...columns.map(literal),
      literal(prevHashes),
      literal(hashes),
      literal(macs),
    ];
    return { params, results };
  }
}

/** Rejects every waiter of a batch that could not be committed (503 for its callers: nothing is disclosed). */
function rejectBatch(batch: readonly Waiter[], cause: unknown): null {
  const why = cause instanceof Error ? cause.message : String(cause);
  const error = new AuditUnavailableError(
    `could not commit ${batch.length} audit entr${batch.length === 1 ? 'y' : 'ies'}: ${why}`,
    'database',
    {
      cause,
    },
  );
  for (const w of batch) w.reject(error);
  return null;
}

/** Resolves every waiter of a committed batch with its own entry. */
function settle(batch: readonly Waiter[], results: readonly AppendedEntry[]): void {
  batch.forEach((w, i) => w.resolve(results[i] as AppendedEntry));
}
