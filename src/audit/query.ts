/**
 * The auditor's view of the ledger: filtered, newest first, keyset-paged by seq (stable under concurrent appends:
 * a page never repeats or skips an entry). Parameterised SQL only; the cursor is opaque (base64url), signed (HMAC under
 * a key derived from AUDIT_PSEUDONYM_KEY), bound to the filters it was issued for, and validated — a bad cursor is an
 * InvalidCursorError (code invalid_cursor; a 400 bad_request at the HTTP edge).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';
import { InvalidInputError, RefusalError } from '../errors';
import type { Purpose } from '../vocabulary/vocabulary';
import { contentHash, type JsonValue } from './entry';
import { LEDGER_COLUMNS, seqOf, type LedgerRow } from './rows';

export interface LedgerFilters {
  /** recorded_at >= since */
  readonly since?: Date;
  /** recorded_at <= until */
  readonly until?: Date;
  readonly agencyId?: string;
  readonly purpose?: Purpose;
  readonly outcome?: string;
  /** Entries whose matched rules include this rule id. */
  readonly rule?: string;
  readonly kind?: string;
  /** Leave out entries of these kinds (the console hides reads unless asked). */
  readonly excludeKinds?: readonly string[];
  /** Entries of one request. */
  readonly requestId?: string;
  /** Entries about one person: their pseudonym (decisions' `subjectRef`, disclosures' and messages' `subject`). */
  readonly subjectPseudonym?: string;
  /**
   * A search box: entries matching ANY of these (an audit reference, a request id, the pseudonym of a person, case,
   * record, household, referral or request for information: wherever an entry names one).
   */
  readonly anyOf?: { readonly entryId?: string; readonly requestId?: string; readonly subjectPseudonym?: string };
}

/** Signs a cursor body (HMAC): `pseudonymise.mac('audit-cursor', …)`. */
export type CursorMac = (body: string) => Buffer;

export interface LedgerPageRequest {
  /** `nextCursor` from the previous page of the same query. */
  readonly cursor?: string;
  /** Cursors are signed, so one cannot be edited or forged (the seq inside it is never taken on trust). */
  readonly mac: CursorMac;
  /** 1–200, default 50. */
  readonly limit?: number;
}

export interface LedgerEntryView {
  readonly seq: number;
  readonly entryId: string;
  /** ISO 8601, ms. */
  readonly recordedAt: string;
  readonly kind: string;
  readonly outcome: string;
  readonly requestId: string;
  readonly actor: {
    readonly agencyId: string | null;
    readonly agencyType: string | null;
    readonly clientId: string | null;
    readonly practitioner: string | null;
    readonly role: string | null;
    readonly issuer: string | null;
  } | null;
  readonly purpose: string | null;
  readonly rules: readonly string[];
  readonly payload: JsonValue;
  readonly prevHash: string;
  readonly entryHash: string;
}

export interface LedgerPage {
  readonly entries: LedgerEntryView[];
  /** Present when there may be more (older) entries. */
  readonly nextCursor?: string;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** A cursor this gateway did not issue, or issued for a different query. Answered as 400. */
export class InvalidCursorError extends RefusalError {
  readonly code = 'invalid_cursor';
  constructor(detail = 'The cursor is not valid for this query: start again without a cursor.') {
    super(detail, { errors: [{ pointer: '/cursor', detail }] });
  }
}

interface CursorBody {
  readonly v: 1;
  /** Return entries with seq below this. */
  readonly b: number;
  /** Fingerprint of the filters the cursor belongs to. */
  readonly f: string;
}

function filtersFingerprint(filters: LedgerFilters): string {
  return contentHash({
    since: filters.since?.toISOString() ?? null,
    until: filters.until?.toISOString() ?? null,
    agencyId: filters.agencyId ?? null,
    purpose: filters.purpose ?? null,
    outcome: filters.outcome ?? null,
    rule: filters.rule ?? null,
    kind: filters.kind ?? null,
    excludeKinds: filters.excludeKinds ? [...filters.excludeKinds].sort() : null,
    requestId: filters.requestId ?? null,
    subject: filters.subjectPseudonym ?? null,
    anyOf: filters.anyOf
      ? {
          entryId: filters.anyOf.entryId ?? null,
          requestId: filters.anyOf.requestId ?? null,
          subject: filters.anyOf.subjectPseudonym ?? null,
        }
      : null,
  }).slice('sha256:'.length, 'sha256:'.length + 16);
}

/** Bytes of the MAC appended to a cursor (128 bits): 22 base64url characters. */
const CURSOR_MAC_BYTES = 16;
const CURSOR_MAC_CHARS = 22;

/** base64url(JSON body) followed by base64url(first 16 bytes of its HMAC): opaque, and unforgeable without the key. */
function encodeCursor(body: CursorBody, mac: CursorMac): string {
  const text = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  return `${text}${mac(text).subarray(0, CURSOR_MAC_BYTES).toString('base64url')}`;
}

function decodeCursor(cursor: string, fingerprint: string, mac: CursorMac): number {
  if (cursor.length <= CURSOR_MAC_CHARS || cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError();
  const text = cursor.slice(0, -CURSOR_MAC_CHARS);
  const given = Buffer.from(cursor.slice(-CURSOR_MAC_CHARS), 'base64url');
  const expected = mac(text).subarray(0, CURSOR_MAC_BYTES);
  if (given.length !== CURSOR_MAC_BYTES || !timingSafeEqual(given, expected))
    throw new InvalidCursorError('The cursor was not issued by this gateway, or has been changed: start again without a cursor.');
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidCursorError();
  const { v, b, f } = body as Record<string, unknown>;
  if (v !== 1 || typeof b !== 'number' || !Number.isSafeInteger(b) || b < 1 || typeof f !== 'string') throw new InvalidCursorError();
  if (f !== fingerprint)
    throw new InvalidCursorError('The cursor belongs to a query with different filters: start again without a cursor.');
  return b;
}

function validDate(d: Date | undefined, name: string): void {
  if (d !== undefined && Number.isNaN(d.getTime())) {
    throw new InvalidInputError('invalid_query', `${name} is not a valid date-time.`, {
      errors: [{ pointer: `/${name}`, detail: 'not a valid date-time' }],
    });
  }
}

export function toEntryView(row: LedgerRow): LedgerEntryView {
  const hasActor = [row.agency_id, row.agency_type, row.client_id, row.practitioner, row.role, row.issuer].some((v) => v !== null);
  return {
    seq: seqOf(row),
    entryId: row.entry_id,
    recordedAt: row.recorded_at.toISOString(),
    kind: row.kind,
    outcome: row.outcome,
    requestId: row.request_id,
    actor: hasActor
      ? {
          agencyId: row.agency_id,
          agencyType: row.agency_type,
          clientId: row.client_id,
          practitioner: row.practitioner,
          role: row.role,
          issuer: row.issuer,
        }
      : null,
    purpose: row.purpose,
    rules: row.rules,
    payload: row.payload,
    prevHash: row.prev_hash,
    entryHash: row.entry_hash,
  };
}

function whereOf(filters: LedgerFilters): { params: unknown[]; where: string[] } {
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: (p: string) => string, value: unknown): void => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filters.since) add((p) => `recorded_at >= ${p}::timestamptz`, filters.since.toISOString());
  if (filters.until) add((p) => `recorded_at <= ${p}::timestamptz`, filters.until.toISOString());
  if (filters.agencyId !== undefined) add((p) => `agency_id = ${p}`, filters.agencyId);
  if (filters.purpose !== undefined) add((p) => `purpose = ${p}`, filters.purpose);
  if (filters.outcome !== undefined) add((p) => `outcome = ${p}`, filters.outcome);
  if (filters.kind !== undefined) add((p) => `kind = ${p}`, filters.kind);
  if (filters.excludeKinds?.length) add((p) => `kind <> ALL(${p}::text[])`, [...filters.excludeKinds]);
  if (filters.requestId !== undefined) add((p) => `request_id = ${p}`, filters.requestId);
  if (filters.subjectPseudonym !== undefined)
    add((p) => `(payload->>'subjectRef' = ${p} OR payload->>'subject' = ${p})`, filters.subjectPseudonym);
  if (filters.rule !== undefined) add((p) => `rules @> ARRAY[${p}::text]`, filters.rule);
  if (filters.anyOf) {
    const alternatives: string[] = [];
    const alt = (sql: (p: string) => string, value: unknown): void => {
      params.push(value);
      alternatives.push(sql(`$${params.length}`));
    };
    if (filters.anyOf.entryId !== undefined && UUID.test(filters.anyOf.entryId)) alt((p) => `entry_id = ${p}::uuid`, filters.anyOf.entryId);
    if (filters.anyOf.requestId !== undefined) alt((p) => `request_id = ${p}`, filters.anyOf.requestId);
    // The words searched may be a case reference, a person id or a record, referral or request id: all are in the
    // ledger only as pseudonyms, so the pseudonym of the words is matched wherever an entry names one.
    if (filters.anyOf.subjectPseudonym !== undefined)
      alt(
        (p) =>
          `(payload->>'subjectRef' = ${p} OR payload->>'subject' = ${p} OR payload->>'recordId' = ${p} OR payload->>'householdId' = ${p}` +
          ` OR payload->>'referralId' = ${p} OR payload->>'informationRequestId' = ${p} OR payload->'referral'->>'id' = ${p}` +
          ` OR payload->'pathIds' ? ${p})`,
        filters.anyOf.subjectPseudonym,
      );
    where.push(alternatives.length > 0 ? `(${alternatives.join(' OR ')})` : 'false');
  }
  return { params, where };
}

/** How many entries match the filters (the console's result count). */
export async function countLedger(pool: Pool, filters: LedgerFilters): Promise<number> {
  validDate(filters.since, 'since');
  validDate(filters.until, 'until');
  const { params, where } = whereOf(filters);
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM audit_ledger ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`,
    params,
  );
  return Number(rows[0]?.n ?? 0);
}

export async function queryLedger(pool: Pool, filters: LedgerFilters, page: LedgerPageRequest): Promise<LedgerPage> {
  const limit = page.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new InvalidInputError('invalid_query', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}.`, {
      errors: [{ pointer: '/limit', detail: `1 to ${MAX_PAGE_SIZE}` }],
    });
  }
  validDate(filters.since, 'since');
  validDate(filters.until, 'until');
  const fingerprint = filtersFingerprint(filters);

  const { params, where } = whereOf(filters);
  const add = (sql: (p: string) => string, value: unknown): void => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (page.cursor !== undefined) add((p) => `seq < ${p}::bigint`, String(decodeCursor(page.cursor, fingerprint, page.mac)));
  params.push(limit + 1);

  const { rows } = await pool.query<LedgerRow>(
    `SELECT ${LEDGER_COLUMNS} FROM audit_ledger
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY audit_ledger.seq DESC LIMIT $${params.length}`,
    params,
  );
  const entries = rows.slice(0, limit).map(toEntryView);
  const last = entries[entries.length - 1];
  if (rows.length > limit && last) return { entries, nextCursor: encodeCursor({ v: 1, b: last.seq, f: fingerprint }, page.mac) };
  return { entries };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One entry by its id, or null (also for a string that is not a UUID). */
export async function getEntry(pool: Pool, entryId: string): Promise<LedgerEntryView | null> {
  if (!UUID.test(entryId)) return null;
  const { rows } = await pool.query<LedgerRow>(`SELECT ${LEDGER_COLUMNS} FROM audit_ledger WHERE entry_id = $1::uuid`, [entryId]);
  const row = rows[0];
  return row ? toEntryView(row) : null;
}

/** Aggregates of decisions for the auditor's charts: outcomes per day (UTC) and the 20 most frequent withheld (code, rule). */
export interface DecisionStats {
  readonly byDay: Array<{ day: string; outcome: string; n: number }>;
  readonly withheld: Array<{ code: string; rule: string | null; n: number }>;
}

export async function decisionStats(pool: Pool, since: Date, until: Date): Promise<DecisionStats> {
  const range = [since.toISOString(), until.toISOString()];
  const byDay = await pool.query<{ day: string; outcome: string; n: number }>(
    `SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, outcome, count(*)::int AS n
       FROM audit_ledger
      WHERE kind = 'decision' AND recorded_at >= $1::timestamptz AND recorded_at <= $2::timestamptz
      GROUP BY 1, 2 ORDER BY 1, 2`,
    range,
  );
  const withheld = await pool.query<{ code: string; rule: string | null; n: number }>(
    `SELECT w->>'code' AS code, w->>'rule' AS rule, count(*)::int AS n
       FROM audit_ledger,
            jsonb_array_elements(CASE WHEN jsonb_typeof(payload->'withheldFields') = 'array' THEN payload->'withheldFields' ELSE '[]'::jsonb END) AS w
      WHERE kind = 'decision' AND recorded_at >= $1::timestamptz AND recorded_at <= $2::timestamptz
      GROUP BY 1, 2 ORDER BY n DESC, code, rule LIMIT 20`,
    range,
  );
  return { byDay: byDay.rows, withheld: withheld.rows };
}
