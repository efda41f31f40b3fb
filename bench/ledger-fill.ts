/**
 * Fills an EMPTY throw-away ledger with N real chained entries fast enough for 10,000,000 (the bench's national-size
 * point): every entry is a decision entry as ./ledger-bench.ts `decisionEntry` makes it, its entry_hash is the SHA-256
 * of its RFC 8785 preimage exactly as src/audit/entry.ts `entryHash` defines it, and its entry_mac the HMAC the
 * gateway writes (src/audit/entry-mac.ts), so the sealer (which re-hashes every entry and checks every MAC) and the
 * verifier accept them as they accept the gateway's own.
 *
 * Fast because:
 *   - the preimage is a template: `canonicalize` is run once on an entry with placeholders, and each entry splices its
 *     own values (seq, id, time, outcome, request id, purpose, one fact, predecessor) into the canonical text; the
 *     first 1,000 entries and one in every 50,000 are re-hashed with the real `entryHash` and must agree (so the
 *     template can never drift from the definition);
 *   - the rows go to PostgreSQL as one server-side `COPY … FROM '<fifo>' WITH (FREEZE)` (superuser; the named pipe is
 *     written by this process while the server reads it: no intermediate file), inside the transaction that truncated
 *     the (empty) table, so rows are written frozen and need no VACUUM pass; the append-only triggers are skipped for
 *     that one session (`session_replication_role = replica`), which only a superuser can do;
 *   - the secondary indexes and UNIQUE constraints (not the primary key on seq) are dropped first, since sealing and
 *     verification read by seq only.
 * Only for the bench's own databases: never point it at a real ledger.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import canonicalize from 'canonicalize';
import { Client } from 'pg';
import { entryHash, ENTRY_HASH_VERSION, GENESIS_HASH, type JsonObject } from '../src/audit/entry';
import { entryMac, type EntryMacKey } from '../src/audit/entry-mac';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded';
import { decisionEntry } from './decision-entry';

const COLUMNS =
  'seq, entry_id, recorded_at, kind, outcome, request_id, agency_id, agency_type, client_id, practitioner, role, issuer, purpose, rules, payload, prev_hash, entry_hash, entry_mac';

/** Placeholders spliced per entry: quoted in the template, replaced with JSON text. */
type Slot = 'seq' | 'entryId' | 'recordedAt' | 'outcome' | 'requestId' | 'purpose' | 'hours' | 'prevHash';
const mark = (s: Slot): string => `@@${s}@@`;

/** Splits canonical text at the quoted placeholders: parts[0] slot0 parts[1] slot1 … */
function template(text: string): { parts: string[]; order: Slot[] } {
  const re = /"@@([A-Za-z]+)@@"/g;
  const parts: string[] = [];
  const order: Slot[] = [];
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    parts.push(text.slice(last, m.index));
    order.push(m[1] as Slot);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return { parts, order };
}

function fill(t: { parts: string[]; order: Slot[] }, values: Record<Slot, string>): string {
  let out = t.parts[0] as string;
  for (let i = 0; i < t.order.length; i++) out += (values[t.order[i] as Slot] as string) + (t.parts[i + 1] as string);
  return out;
}

/** The per-entry values decisionEntry(seq) varies (its outcome, purpose and fact), with this fill's request id. */
function varying(seq: number, requestId: string): { outcome: string; purpose: string; hours: number } {
  const e = decisionEntry(seq, requestId);
  const facts = (e.payload as JsonObject).facts as JsonObject;
  return { outcome: e.outcome, purpose: e.purpose as string, hours: facts.hours_since_incident as number };
}

export interface FillOptions {
  /** The gateway's entry MAC key: every entry gets its MAC (the sealer refuses an entry without one). */
  readonly macKey: EntryMacKey;
  readonly onProgress?: (done: number) => void;
}

/** `superuserUrl`: the bench cluster's superuser, connected to the database to fill. Returns seconds taken. */
export async function fillLedger(superuserUrl: string, entries: number, options: FillOptions): Promise<number> {
  const started = process.hrtime.bigint();
  const client = new Client({ connectionString: superuserUrl });
  await client.connect();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-fill-'));
  try {
    const head = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_ledger');
    if (head.rows[0]?.n !== '0') throw new Error('fillLedger needs an empty ledger');
    const indexes = await client.query<{ name: string; constraint: string | null }>(
      `SELECT i.relname AS name, c.conname AS constraint
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
         LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid
        WHERE x.indrelid = 'audit_ledger'::regclass AND NOT x.indisprimary`,
    );
    for (const ix of indexes.rows) {
      await client.query(ix.constraint ? `ALTER TABLE audit_ledger DROP CONSTRAINT "${ix.constraint}"` : `DROP INDEX "${ix.name}"`);
    }

    // The preimage and the payload, canonical once, with placeholders.
    const sample = decisionEntry(0, mark('requestId'));
    const a = sample.actor!;
    const payloadWithSlot = { ...(sample.payload as JsonObject) };
    payloadWithSlot.facts = { ...(payloadWithSlot.facts as JsonObject), hours_since_incident: mark('hours') };
    const preimage = template(
      canonicalize({
        v: ENTRY_HASH_VERSION,
        seq: mark('seq'),
        entryId: mark('entryId'),
        recordedAt: mark('recordedAt'),
        kind: sample.kind,
        outcome: mark('outcome'),
        requestId: mark('requestId'),
        agencyId: a.agencyId,
        agencyType: a.agencyType,
        clientId: a.clientId,
        practitioner: null,
        role: a.role,
        issuer: a.issuer,
        purpose: mark('purpose'),
        rules: [...(sample.rules ?? [])],
        payload: payloadWithSlot,
        prevHash: mark('prevHash'),
      }) ?? '',
    );
    const payloadText = template(JSON.stringify(payloadWithSlot));
    const rulesLiteral = `{${(sample.rules ?? []).map((r) => `"${r}"`).join(',')}}`;
    const fixed = [sample.kind, a.agencyId, a.agencyType, a.clientId, a.role, a.issuer, rulesLiteral, ...payloadText.parts];
    if (fixed.some((s) => /[\\\t\n\r]/.test(s))) throw new Error('a fixed value needs COPY escaping: extend ledger-fill.ts');

    const fifo = path.join(dir, 'rows');
    execFileSync('mkfifo', ['-m', '0666', fifo]);
    chmodSync(dir, 0o755); // the server may run as another OS user (postgres, when we are root)

    await client.query('SET session_replication_role = replica'); // this session only: skip the append-only triggers
    await client.query('SET synchronous_commit = off');
    await client.query('BEGIN');
    await client.query('TRUNCATE audit_ledger'); // empty (checked above): lets COPY write frozen rows
    const copying = client.query(`COPY audit_ledger (${COLUMNS}) FROM '${fifo}' WITH (FREEZE)`);
    copying.catch(() => undefined); // awaited below; the writer must not see an unhandled rejection first

    const out = createWriteStream(fifo, { highWaterMark: 1 << 20 });
    const failed = new Promise<never>((_, reject) => {
      out.on('error', reject);
      copying.then(
        () => reject(new Error('COPY ended before every row was written')),
        (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))),
      );
    });
    failed.catch(() => undefined);
    const base = Date.now() - entries; // one entry per millisecond, ending now
    let prevHash = GENESIS_HASH;
    const CHUNK = 2000;
    let lines: string[] = [];
    for (let seq = 1; seq <= entries; seq++) {
      const entryId = randomUUID();
      const requestId = `bench-${seq}-${entryId.slice(0, 8)}`;
      const recordedAt = new Date(base + seq).toISOString();
      const v = varying(seq, requestId);
      const values: Record<Slot, string> = {
        seq: String(seq),
        entryId: `"${entryId}"`,
        recordedAt: `"${recordedAt}"`,
        outcome: JSON.stringify(v.outcome),
        requestId: JSON.stringify(requestId),
        purpose: JSON.stringify(v.purpose),
        hours: String(v.hours),
        prevHash: `"${prevHash}"`,
      };
      const hash = createHash('sha256').update(fill(preimage, values), 'utf8').digest('hex');
      if (seq <= 1000 || seq % 50_000 === 0) {
        const e = decisionEntry(seq, requestId);
        const real = entryHash({
          seq,
          entryId,
          recordedAt: new Date(recordedAt),
          kind: e.kind,
          outcome: e.outcome,
          requestId: e.requestId,
          agencyId: e.actor!.agencyId,
          agencyType: e.actor!.agencyType,
          clientId: e.actor!.clientId,
          practitioner: null,
          role: e.actor!.role,
          issuer: e.actor!.issuer,
          purpose: e.purpose ?? null,
          rules: [...(e.rules ?? [])],
          payload: e.payload,
          prevHash,
        });
        if (real !== hash) throw new Error(`the fill's template differs from entryHash at entry ${seq}`);
      }
      lines.push(
        `${seq}\t${entryId}\t${recordedAt}\t${sample.kind}\t${v.outcome}\t${requestId}\t${a.agencyId}\t${a.agencyType}\t${a.clientId}\t\\N\t${a.role}\t${a.issuer}\t${v.purpose}\t${rulesLiteral}\t${fill(payloadText, values)}\t${prevHash}\t${hash}\t${entryMac(options.macKey, hash)}\n`,
      );
      prevHash = hash;
      if (lines.length === CHUNK || seq === entries) {
        const chunk = lines.join('');
        lines = [];
        if (!out.write(chunk)) await Promise.race([new Promise<void>((r) => out.once('drain', () => r())), failed]);
        if (seq % 1_000_000 === 0 || seq === entries) options.onProgress?.(seq);
      }
    }
    await Promise.race([new Promise<void>((r) => out.end(r)), failed]);
    await copying;
    await client.query('COMMIT');
    await client.query('SET session_replication_role = origin');
    await client.query('ANALYZE audit_ledger');
    await client.query('CHECKPOINT');
  } finally {
    await client.end().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * The bench's own PostgreSQL, set for bulk loading: `wal_level = minimal` (no replicas), so the fill's COPY into the
 * table it truncated writes no WAL for the rows (the table is synced at COMMIT instead). Everything measured after the
 * fill (sealing: reads, one checkpoint row; appends) behaves as on any single server. Restarts the server once.
 */
export async function startBulkLoadPostgres(dataDir: string, port: number): Promise<EmbeddedDatabase> {
  const first = await startEmbeddedPostgres({ dataDir, port });
  const admin = new Client({ connectionString: first.adminUrl });
  await admin.connect();
  try {
    await admin.query(`ALTER SYSTEM SET wal_level = 'minimal'`);
    await admin.query('ALTER SYSTEM SET max_wal_senders = 0');
    await admin.query(`ALTER SYSTEM SET max_wal_size = '4GB'`);
  } finally {
    await admin.end();
  }
  await first.stop();
  return startEmbeddedPostgres({ dataDir, port });
}
