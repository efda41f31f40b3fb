/**
 * The audit ledger: every disclosure decision, refusal and audit read is appended here and COMMITTED before any
 * answer leaves the gateway (invariant 1). Entries are hash-chained: each carries the SHA-256 of its predecessor,
 * so any later edit, deletion, insertion or reordering is found by `verifyLedger` (./verify.ts).
 *
 * WHAT GOES IN A PAYLOAD (invariant 3): field names, rule ids, vocabulary words, counts, pseudonyms
 * (./pseudonym.ts) and content hashes (`contentHash` below) — NEVER a sensitive value (names, addresses, dates of
 * birth, report text, free text from a request). If you need to prove what was sent, store `contentHash(answer)`.
 *
 * Group commit: concurrent `append` calls queue up; one flush at a time per process takes up to `maxBatch` queued
 * entries and writes them in ONE transaction:
 *
 *   BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_advisory_xact_lock(LEDGER_LOCK_KEY)
 *   → read the last (seq, entry_hash) → chain the batch → one multi-row INSERT → COMMIT → resolve every waiter.
 *
 * The advisory lock serialises appenders across processes sharing the database; within a process the queue does.
 * Under load more entries wait while a flush is in flight, so the next batch is bigger: throughput grows with load
 * while every caller still waits for the COMMIT of its own entry. On any error the batch is rolled back and every
 * waiter in it is rejected with `AuditUnavailableError` (nothing of that batch is stored).
 */
import { createHash, randomUUID } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Pool, PoolClient } from 'pg';
import type { AgencyType, Purpose, Role } from '../vocabulary/vocabulary';
import type { AuditKind } from './kinds';

// ---------------------------------------------------------------------------------------------------------------
// Types

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | readonly JsonValue[] | JsonObject;
/** `undefined` members are dropped, as JSON.stringify does. */
export interface JsonObject {
  readonly [key: string]: JsonValue | undefined;
}

/** What an entry records: one list, with its labels, in ./kinds.ts (add new kinds there). */
export type { AuditKind } from './kinds';

/** Who acted: from the verified token, never from a request body. */
export interface AuditActor {
  readonly agencyId: string;
  readonly agencyType: AgencyType;
  readonly clientId: string;
  readonly role: Role;
  /** The practitioner's subject identifier at their agency's IdP (absent for system clients). */
  readonly practitioner?: string;
  readonly issuer: string;
}

export interface NewAuditEntry {
  readonly kind: AuditKind;
  /** e.g. a decision (`permit`), a problem code (`forbidden`), `served`, `intact`. */
  readonly outcome: string;
  readonly requestId: string;
  /** null when the caller could not be identified (e.g. a refused unauthenticated request). */
  readonly actor: AuditActor | null;
  readonly purpose?: Purpose;
  /** Policy rule ids that matched. */
  readonly rules?: readonly string[];
  /** Field names, words, counts, pseudonyms and content hashes only — never sensitive values. */
  readonly payload: JsonObject;
}

export interface AppendedEntry {
  readonly seq: number;
  readonly entryId: string;
  readonly entryHash: string;
  readonly prevHash: string;
  readonly recordedAt: Date;
}

/** What the rest of the gateway depends on (the composition root builds a PgAuditLedger). */
export interface AuditLedger {
  /** Resolves only after the entry is durably committed; rejects with AuditUnavailableError otherwise. */
  append(entry: NewAuditEntry): Promise<AppendedEntry>;
  close(): Promise<void>;
}

/** The hash preimage of one entry: exactly the stored columns (camelCase), nothing derived. */
export interface LedgerHashInput {
  readonly seq: number;
  readonly entryId: string;
  readonly recordedAt: Date;
  readonly kind: string;
  readonly outcome: string;
  readonly requestId: string;
  readonly agencyId: string | null;
  readonly agencyType: string | null;
  readonly clientId: string | null;
  readonly practitioner: string | null;
  readonly role: string | null;
  readonly issuer: string | null;
  readonly purpose: string | null;
  readonly rules: readonly string[];
  readonly payload: JsonValue;
  readonly prevHash: string;
}

export type AuditUnavailableReason = 'database' | 'invalid_entry' | 'closed';

/**
 * The entry could not be durably recorded, so nothing may be disclosed. The HTTP layer answers 503
 * (`audit_unavailable`). `message` is for logs (no entry content in it); callers must not show it.
 */
export class AuditUnavailableError extends Error {
  readonly code = 'audit_unavailable' as const;
  override readonly name = 'AuditUnavailableError';
  constructor(
    message: string,
    readonly reason: AuditUnavailableReason = 'database',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hashing: ONE definition, used by the appender and the verifier.

/** prev_hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);
/** Version of the hash preimage layout; bump only together with a verifier that knows both. */
export const ENTRY_HASH_VERSION = 1;
/** pg_advisory_xact_lock key that serialises ledger appenders across processes ("sg-audit" in ASCII). */
export const LEDGER_LOCK_KEY = '7378432305101449588';

function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}

/**
 * entry_hash = hex SHA-256 of the RFC 8785 canonical JSON of
 * `{ v, seq, entryId, recordedAt (ISO 8601, ms), kind, outcome, requestId, agencyId, agencyType, clientId,
 *    practitioner, role, issuer, purpose, rules, payload, prevHash }` — absent values are `null`, never omitted.
 */
export function entryHash(row: LedgerHashInput): string {
  const preimage = {
    v: ENTRY_HASH_VERSION,
    seq: row.seq,
    entryId: row.entryId,
    recordedAt: row.recordedAt.toISOString(),
    kind: row.kind,
    outcome: row.outcome,
    requestId: row.requestId,
    agencyId: row.agencyId,
    agencyType: row.agencyType,
    clientId: row.clientId,
    practitioner: row.practitioner,
    role: row.role,
    issuer: row.issuer,
    purpose: row.purpose,
    rules: row.rules,
    payload: row.payload,
    prevHash: row.prevHash,
  };
  return createHash('sha256').update(canonicalJson(preimage), 'utf8').digest('hex');
}

/**
 * `sha256:<hex>` of the RFC 8785 canonical JSON of `value`: how a payload refers to content it must not contain
 * (an answer, a page of results, a document). Equal JSON values give equal hashes whatever their key order.
 */
export function contentHash(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation: a bad entry is refused on its own, before it can join (and poison) a batch.

const MAX_TEXT = 1000;
/** PostgreSQL text and jsonb refuse NUL and unpaired UTF-16 surrogates. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function storableText(value: unknown, what: string, optional: boolean): string | null {
  if (value === undefined || value === null) {
    if (optional) return null;
    throw new TypeError(`${what} is required`);
  }
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${what} must be a non-empty string`);
  if (value.length > MAX_TEXT) throw new TypeError(`${what} is longer than ${MAX_TEXT} characters`);
  if (UNSTORABLE.test(value)) throw new TypeError(`${what} contains characters PostgreSQL cannot store`);
  return value;
}

function checkJsonStrings(value: unknown, path: string): void {
  if (typeof value === 'string') {
    if (UNSTORABLE.test(value)) throw new TypeError(`payload${path} contains characters PostgreSQL cannot store`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => checkJsonStrings(v, `${path}/${i}`));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (UNSTORABLE.test(k)) throw new TypeError(`a payload key under payload${path} contains characters PostgreSQL cannot store`);
      checkJsonStrings(v, `${path}/${k}`);
    }
  }
}

interface PreparedEntry {
  readonly entryId: string;
  readonly kind: string;
  readonly outcome: string;
  readonly requestId: string;
  readonly agencyId: string | null;
  readonly agencyType: string | null;
  readonly clientId: string | null;
  readonly practitioner: string | null;
  readonly role: string | null;
  readonly issuer: string | null;
  readonly purpose: string | null;
  readonly rules: readonly string[];
  /** The payload exactly as jsonb will give it back (a JSON round trip), and its JSON text. */
  readonly payload: JsonValue;
  readonly payloadJson: string;
}

function prepare(entry: NewAuditEntry, maxPayloadBytes: number): PreparedEntry {
  const a = entry.actor;
  const rules = (entry.rules ?? []).map((r, i) => storableText(r, `rules[${i}]`, false) as string);
  if (entry.payload === null || typeof entry.payload !== 'object' || Array.isArray(entry.payload)) {
    throw new TypeError('payload must be a JSON object');
  }
  // JSON.stringify throws on cycles and BigInt; NaN/Infinity would silently become null, so refuse them first.
  const payloadJson = JSON.stringify(entry.payload, (_k, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError('payload contains a non-finite number');
    return v;
  });
  if (Buffer.byteLength(payloadJson, 'utf8') > maxPayloadBytes) throw new TypeError(`payload is larger than ${maxPayloadBytes} bytes`);
  const payload = JSON.parse(payloadJson) as JsonValue;
  checkJsonStrings(payload, '');
  return {
    entryId: randomUUID(),
    kind: storableText(entry.kind, 'kind', false) as string,
    outcome: storableText(entry.outcome, 'outcome', false) as string,
    requestId: storableText(entry.requestId, 'requestId', false) as string,
    agencyId: a ? storableText(a.agencyId, 'actor.agencyId', false) : null,
    agencyType: a ? storableText(a.agencyType, 'actor.agencyType', false) : null,
    clientId: a ? storableText(a.clientId, 'actor.clientId', false) : null,
    practitioner: a ? storableText(a.practitioner, 'actor.practitioner', true) : null,
    role: a ? storableText(a.role, 'actor.role', false) : null,
    issuer: a ? storableText(a.issuer, 'actor.issuer', false) : null,
    purpose: storableText(entry.purpose, 'purpose', true),
    rules,
    payload,
    payloadJson,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The PostgreSQL ledger

export interface PgAuditLedgerOptions {
  /** Most entries written by one transaction (default 256). */
  readonly maxBatch?: number;
  /** Longest wait for a pooled connection, and statement_timeout for each statement of a flush (including the lock wait), in ms (default 10 000): a stuck database fails closed. */
  readonly timeoutMs?: number;
  /** Largest accepted payload as JSON (default 64 KiB). */
  readonly maxPayloadBytes?: number;
}

interface Waiter {
  readonly entry: PreparedEntry;
  readonly resolve: (appended: AppendedEntry) => void;
  readonly reject: (error: AuditUnavailableError) => void;
}

const COLUMNS = [
  'seq', 'entry_id', 'recorded_at', 'kind', 'outcome', 'request_id', 'agency_id', 'agency_type', 'client_id',
  'practitioner', 'role', 'issuer', 'purpose', 'rules', 'payload', 'prev_hash', 'entry_hash',
] as const;
const CASTS: Partial<Record<(typeof COLUMNS)[number], string>> = {
  seq: '::bigint', entry_id: '::uuid', recorded_at: '::timestamptz', rules: '::text[]', payload: '::jsonb',
};
/** Bind parameters per statement are limited to 65 535. */
const MAX_BATCH_LIMIT = Math.floor(65_535 / COLUMNS.length);

export class PgAuditLedger implements AuditLedger {
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly maxPayloadBytes: number;
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
  }

  append(entry: NewAuditEntry): Promise<AppendedEntry> {
    if (this.closed) return Promise.reject(new AuditUnavailableError('the audit ledger is closed', 'closed'));
    let prepared: PreparedEntry;
    try {
      prepared = prepare(entry, this.maxPayloadBytes);
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
      results = await this.writeBatch(client, batch.map((w) => w.entry));
    } catch (cause) {
      await client.query('ROLLBACK').catch(() => undefined);
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
    // statement_timeout also bounds the wait for the advisory lock: a stuck appender elsewhere fails us closed.
    await client.query(
      `BEGIN; SET LOCAL synchronous_commit = on; SET LOCAL statement_timeout = ${this.timeoutMs}; ` +
        `SELECT pg_advisory_xact_lock(${LEDGER_LOCK_KEY})`,
    );
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
      const values: unknown[] = [
        String(seq), e.entryId, recordedAt.toISOString(), e.kind, e.outcome, e.requestId, e.agencyId, e.agencyType,
        e.clientId, e.practitioner, e.role, e.issuer, e.purpose, e.rules, e.payloadJson, prevHash, hash,
      ];
      tuples.push(`(${COLUMNS.map((c, i) => `$${params.push(values[i])}${CASTS[c] ?? ''}`).join(', ')})`);
      results.push({ seq, entryId: e.entryId, entryHash: hash, prevHash, recordedAt });
      prevHash = hash;
    }
    await client.query(`INSERT INTO audit_ledger (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params);
    const commit = await client.query('COMMIT');
    // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK, not an error.
    if (commit.command !== 'COMMIT') throw new Error(`COMMIT answered ${commit.command}`);
    return results;
  }
}
