/**
 * The audit entry: what an entry is (types and kinds), how it is hashed (ONE definition, used by the writer and the
 * verifier) and how a new entry is validated before it may join a batch. The PostgreSQL group-commit writer is
 * ./pg-ledger.ts; how a stored row is read back is ./rows.ts.
 *
 * WHAT GOES IN A PAYLOAD (invariant 3): field names, rule ids, vocabulary words, counts, pseudonyms
 * (./pseudonym.ts) and content hashes (`contentHash` below) — NEVER a sensitive value (names, addresses, dates of
 * birth, report text, free text from a request). If you need to prove what was sent, store `contentHash(answer)`.
 *
 * Entries are hash-chained: each carries the SHA-256 of its predecessor, so any later edit, deletion, insertion or
 * reordering is found by `verifyLedger` (./verify.ts).
 */
import { createHmac, hash, randomUUID } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { AgencyType, Purpose, Role } from '../vocabulary/vocabulary';
import { isAuditKind, type AuditKind } from './kinds';
import { SafeguardError } from '../errors';

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
export class AuditUnavailableError extends SafeguardError {
  readonly code = 'audit_unavailable' as const;
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

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The entry hash preimage (below) cut around the three values only the writer knows: it is
 * `head + prevHash + middle + recordedAt + tail + seq + ',"v":1}'`, members in RFC 8785 order (by name). The writer
 * makes the parts once per entry, when the entry is prepared, and hashes each entry of a batch with one
 * concatenation; the verifier makes them from the stored row. Both go through `hashFromParts`.
 */
export interface EntryHashParts {
  readonly head: string;
  readonly middle: string;
  readonly tail: string;
}

type HashedFields = Omit<LedgerHashInput, 'seq' | 'recordedAt' | 'prevHash' | 'payload'>;

/** `payloadCanonical` is the RFC 8785 canonical JSON of the payload. */
export function entryHashParts(e: HashedFields, payloadCanonical: string): EntryHashParts {
  const j = (v: string | null): string => JSON.stringify(v);
  return {
    head:
      `{"agencyId":${j(e.agencyId)},"agencyType":${j(e.agencyType)},"clientId":${j(e.clientId)},"entryId":${j(e.entryId)}` +
      `,"issuer":${j(e.issuer)},"kind":${j(e.kind)},"outcome":${j(e.outcome)},"payload":${payloadCanonical}` +
      `,"practitioner":${j(e.practitioner)},"prevHash":`,
    middle: `,"purpose":${j(e.purpose)},"recordedAt":`,
    tail: `,"requestId":${j(e.requestId)},"role":${j(e.role)},"rules":${canonicalJson(e.rules)},"seq":`,
  };
}

/** entry_hash from the parts and what the writer adds (see `entryHash`). */
export function hashFromParts(parts: EntryHashParts, seq: number, recordedAt: Date, prevHash: string): string {
  if (!Number.isFinite(seq)) throw new Error('seq must be a finite number');
  const preimage = `${parts.head}${JSON.stringify(prevHash)}${parts.middle}${JSON.stringify(recordedAt.toISOString())}${parts.tail}${JSON.stringify(seq)},"v":${ENTRY_HASH_VERSION}}`;
  // One-shot SHA-256 (node:crypto `hash`): the same digest as createHash, without a Hash object per entry.
  return hash('sha256', preimage, 'hex');
}

const HASH_INPUT_KEYS = [
  'seq',
  'entryId',
  'recordedAt',
  'kind',
  'outcome',
  'requestId',
  'agencyId',
  'agencyType',
  'clientId',
  'practitioner',
  'role',
  'issuer',
  'purpose',
  'rules',
  'payload',
  'prevHash',
] as const satisfies ReadonlyArray<keyof LedgerHashInput>;

/**
 * entry_hash = hex SHA-256 of the RFC 8785 canonical JSON of
 * `{ v, seq, entryId, recordedAt (ISO 8601, ms), kind, outcome, requestId, agencyId, agencyType, clientId,
 *    practitioner, role, issuer, purpose, rules, payload, prevHash }` — absent values are `null`, never omitted.
 */
export function entryHash(row: LedgerHashInput): string {
  // A member that is undefined (not a stored row) is left out by RFC 8785: the general serialiser says how.
  if (HASH_INPUT_KEYS.some((k) => row[k] === undefined)) {
    const preimage: Record<string, unknown> = { v: ENTRY_HASH_VERSION };
    for (const k of HASH_INPUT_KEYS) preimage[k] = k === 'recordedAt' ? row.recordedAt.toISOString() : row[k];
    return hash('sha256', canonicalJson(preimage), 'hex');
  }
  return hashFromParts(entryHashParts(row, canonicalJson(row.payload)), row.seq, row.recordedAt, row.prevHash);
}

/** The content hash key of this process (`useContentHashKey`), or null: unkeyed. */
let contentKey: Buffer | null = null;

/**
 * Keys every later `contentHash` with HMAC-SHA-256 (the gateway does this at start-up, from AUDIT_PSEUDONYM_KEY):
 * an unkeyed hash of a small value (a date of birth, a postcode) is confirmed by hashing guesses; a keyed one is not,
 * without the operator's key. Auditors holding the key can still check that a given content was what was sent.
 */
export function useContentHashKey(secret: string | null): void {
  if (secret !== null && secret.length < 32) throw new RangeError('the content hash key must be at least 32 characters');
  contentKey = secret === null ? null : createHmac('sha256', 'safeguard-gateway content hash v1').update(secret, 'utf8').digest();
}

/**
 * How a payload refers to content it must not contain (an answer, a page of results, a document), over the RFC 8785
 * canonical JSON of `value` (equal JSON values give equal hashes whatever their key order): `hmac-sha256:<hex>` once
 * `useContentHashKey` has been called (always, in the gateway), `sha256:<hex>` otherwise.
 */
export function contentHash(value: unknown): string {
  return contentHashOfCanonical(canonicalJson(value));
}

/** `contentHash` of a value whose RFC 8785 text the caller has already made (and sends as it is). */
export function contentHashOfCanonical(text: string): string {
  if (contentKey) return `hmac-sha256:${createHmac('sha256', contentKey).update(text, 'utf8').digest('hex')}`;
  return `sha256:${hash('sha256', text, 'hex')}`;
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

function knownKind(kind: unknown): AuditKind {
  if (!isAuditKind(kind)) throw new TypeError('kind is not one of AUDIT_KINDS (./kinds.ts)');
  return kind;
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

/** What JSON.stringify escapes in a string (quote, backslash, controls) and every UTF-16 surrogate. */
const NEEDS_CARE = /["\\\u0000-\u001f\uD800-\uDFFF]/;

/**
 * A string as JSON.stringify writes it, or null if PostgreSQL cannot store it. Most strings of a payload (words,
 * ids, hashes) hold nothing JSON escapes and no surrogate: they are quoted as they are, without a call into
 * JSON.stringify for each (about half the cost of a payload's canonical JSON).
 */
function jsonString(value: string): string | null {
  if (!NEEDS_CARE.test(value)) return `"${value}"`;
  return UNSTORABLE.test(value) ? null : JSON.stringify(value);
}

/** Deeper payloads (or a cycle) take the careful path, which says what is wrong. */
const MAX_FAST_DEPTH = 64;

/**
 * The canonical JSON of a payload made of plain objects, arrays, storable strings, finite numbers, booleans and
 * null, in one walk over the payload as given — what the careful path (a JSON round trip, then `canonicalJson`)
 * gives for it. `null` for anything else (a non-finite number, text PostgreSQL cannot store, a `toJSON`, a class
 * instance, a BigInt, a cycle): the careful path then refuses it with its reason, or handles it as JSON.stringify
 * does.
 */
function fastCanonicalPayload(value: unknown, depth: number): string | null {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : null;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return null;
  }
  if (value === null) return 'null';
  if (depth > MAX_FAST_DEPTH) return null;
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      // As JSON.stringify: undefined, functions and symbols in an array are null.
      const member = v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 'null' : fastCanonicalPayload(v, depth + 1);
      if (member === null) return null;
      text += i === 0 ? member : `,${member}`;
    }
    return `${text}]`;
  }
  if (!isPlainObject(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return null;
  const record = value as Record<string, unknown>;
  let text = '{';
  for (const key of Object.keys(record).sort()) {
    const v = record[key];
    // As JSON.stringify: undefined, function and symbol members are left out.
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    const name = jsonString(key);
    const member = name === null ? null : fastCanonicalPayload(v, depth + 1);
    if (member === null) return null;
    text += `${text.length === 1 ? '' : ','}${name}:${member}`;
  }
  return `${text}}`;
}

/** The careful path: a JSON round trip that refuses non-finite numbers and text PostgreSQL cannot store, naming where. */
function carefulCanonicalPayload(payload: JsonObject): string {
  // JSON.stringify throws on cycles and BigInt; NaN/Infinity would silently become null, so refuse them first.
  const payloadJson = JSON.stringify(payload, (_k, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError('payload contains a non-finite number');
    return v;
  });
  const parsed = JSON.parse(payloadJson) as JsonValue;
  checkJsonStrings(parsed, '');
  return canonicalJson(parsed);
}

/** A validated new entry: the hash preimage less what only the writer knows (seq, time, predecessor). */
export type PreparedEntry = Omit<LedgerHashInput, 'seq' | 'recordedAt' | 'prevHash' | 'payload'> & {
  /**
   * The payload's RFC 8785 canonical JSON: what jsonb stores, and (as jsonb gives it back, parsed and made
   * canonical again, which comes to the same text) what the entry hash covers.
   */
  readonly payloadJson: string;
  /** The entry hash preimage less seq, time and predecessor (`entryHashParts`). */
  readonly hashParts: EntryHashParts;
};

/** Validates and normalises a new entry; throws TypeError naming what is wrong (no entry content in the message). */
export function prepareEntry(entry: NewAuditEntry, maxPayloadBytes: number): PreparedEntry {
  const a = entry.actor;
  const rules = (entry.rules ?? []).map((r, i) => storableText(r, `rules[${i}]`, false) as string);
  if (entry.payload === null || typeof entry.payload !== 'object' || Array.isArray(entry.payload)) {
    throw new TypeError('payload must be a JSON object');
  }
  const payloadJson = fastCanonicalPayload(entry.payload, 0) ?? carefulCanonicalPayload(entry.payload);
  // The canonical text has the same members as JSON.stringify's, so the same length.
  if (Buffer.byteLength(payloadJson, 'utf8') > maxPayloadBytes) throw new TypeError(`payload is larger than ${maxPayloadBytes} bytes`);
  const fields: HashedFields = {
    entryId: randomUUID(),
    kind: knownKind(entry.kind),
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
  };
  return { ...fields, payloadJson, hashParts: entryHashParts(fields, payloadJson) };
}
