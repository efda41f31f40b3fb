/**
 * Ledger benchmarks, against a real PostgreSQL:
 *
 *   appends   PgAuditLedger.append of N decision-like entries with a window of concurrent callers (group commit), with
 *             an entry MAC key as the gateway has (src/gateway.ts),
 *             versus raw multi-row INSERTs of the SAME rows (read back from the ledger, entry_mac included) in batches of the ledger's
 *             batch size, one autocommit statement each, into (a) a plain table with the ledger's columns and no
 *             index, (b) a copy with all of the ledger's indexes and constraints. Same server, same synchronous_commit.
 *   verify    fills a fresh ledger with N chained entries (hashes computed in node with the ledger's own `entryHash`,
 *             inserted as owner in big unnest batches), then times `verifyLedger`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Pool } from 'pg';
import { entryHash, GENESIS_HASH, type NewAuditEntry } from '../src/audit/entry';
import { entryMacKey } from '../src/audit/entry-mac';
import { PgAuditLedger } from '../src/audit/pg-ledger';
import { verifyLedger } from '../src/audit/verify';
import type { Purpose } from '../src/vocabulary/vocabulary';

const PURPOSES: Purpose[] = ['operation_encompass', 'child_protection_enquiry', 'marac', 'mash_triage'];

/** A decision entry shaped like src/decisions/decide-and-record.ts writes (field names and hashes only). */
export function decisionEntry(i: number): NewAuditEntry {
  const purpose = PURPOSES[i % PURPOSES.length] as Purpose;
  return {
    kind: 'decision',
    outcome: i % 5 === 0 ? 'deny' : 'permit_partial',
    requestId: `bench-${i}-${randomUUID().slice(0, 8)}`,
    actor: {
      agencyId: 'bench-police',
      agencyType: 'police',
      clientId: 'bench-police-system',
      role: 'system',
      issuer: 'http://127.0.0.1:1/bench-police',
    },
    purpose,
    rules: ['operation-encompass-police-to-school', 'deny-dash-and-full-report-to-education'],
    payload: {
      from: 'police',
      to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
      subjectRole: 'child',
      subjectRef: `hmac-sha256:${'ab'.repeat(32)}`,
      fieldsRequested: ['name', 'incident_date', 'child_involvement', 'incident_full_report'],
      permittedFields: ['name', 'incident_date', 'child_involvement'],
      withheldFields: [{ field: 'incident_full_report', code: 'denied_by_rule', rule: 'deny-dash-and-full-report-to-education' }],
      facts: { child_present_at_incident: true, hours_since_incident: i % 72 },
      referTo: null,
      policyVersion: 'bench-1',
      answerHash: `sha256:${'cd'.repeat(32)}`,
    },
  };
}

async function commits(client: Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    'SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(rows[0]?.n ?? 0);
}

export interface AppendBenchResult {
  readonly entries: number;
  readonly window: number;
  readonly ledgerPerSecond: number;
  readonly ledgerSeconds: number;
  /** Entries per committed transaction (from pg_stat_database; approximate, other sessions count too). */
  readonly meanBatch: number;
  /** CPU of this process (PgAuditLedger: validation, hashing, pg encoding, settling callers) per entry, and as cores. */
  readonly nodeCpuMicrosPerEntry: number;
  readonly nodeCores: number;
  readonly rawPlainPerSecond: number;
  /** Primary key and the ledger's UNIQUE constraints only (entry_id, prev_hash, entry_hash). */
  readonly rawIntegrityPerSecond: number;
  readonly rawIndexedPerSecond: number;
  readonly ratioToPlain: number;
  readonly ratioToIndexed: number;
}

const COLUMNS =
  'seq, entry_id, recorded_at, kind, outcome, request_id, agency_id, agency_type, client_id, practitioner, role, issuer, purpose, rules, payload, prev_hash, entry_hash';
/** The raw side inserts every stored column: the hashed ones and entry_mac. */
const RAW_COLUMNS = `${COLUMNS}, entry_mac`;
const CASTS = ['::bigint', '::uuid', '::timestamptz', '', '', '', '', '', '', '', '', '', '', '::text[]', '::jsonb', '', '', ''];

/** One multi-row INSERT statement per batch, autocommit, from one connection (as the ledger writes one batch at a time). */
async function rawInsert(client: Client, table: string, rows: unknown[][], batch: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i += batch) {
    const slice = rows.slice(i, i + batch);
    const params: unknown[] = [];
    const tuples = slice.map((r) => `(${r.map((v, c) => `$${params.push(v)}${CASTS[c] ?? ''}`).join(', ')})`);
    await client.query(`INSERT INTO ${table} (${RAW_COLUMNS}) VALUES ${tuples.join(', ')}`, params);
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export async function benchAppends(
  ownerUrl: string,
  appUrl: string,
  entries: number,
  window = 1024,
  maxBatch = 256,
): Promise<AppendBenchResult> {
  const owner = new Client({ connectionString: ownerUrl });
  await owner.connect();
  const pool = new Pool({ connectionString: appUrl, max: 10 });
  // The gateway writes every entry with its MAC (src/gateway.ts): so does the bench.
  const ledger = new PgAuditLedger(pool, { maxBatch, macKey: entryMacKey(randomBytes(32).toString('hex')) });
  try {
    // Warm up (connections, plans).
    await Promise.all(Array.from({ length: 300 }, (_, i) => ledger.append(decisionEntry(i))));
    const [{ max }] = (await owner.query<{ max: string }>('SELECT max(seq)::text AS max FROM audit_ledger')).rows as [{ max: string }];

    // The entries exist before the clock starts (as the raw rows do): only append() and the ledger are timed.
    const prepared = Array.from({ length: entries }, (_, i) => decisionEntry(i));
    const commitsBefore = await commits(owner);
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    let next = 0;
    const caller = async (): Promise<void> => {
      while (next < entries) {
        const i = next++;
        await ledger.append(prepared[i] as NewAuditEntry);
      }
    };
    await Promise.all(Array.from({ length: window }, caller));
    const ledgerSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const commitsAfter = await commits(owner);

    // The same rows, as stored.
    const { rows } = await owner.query({
      text: `SELECT ${RAW_COLUMNS} FROM audit_ledger WHERE seq > $1 ORDER BY seq`,
      values: [max],
      rowMode: 'array',
    });
    const values = (rows as unknown[][]).map((r) =>
      r.map((v, c) => (c === 14 ? JSON.stringify(v) : c === 2 ? (v as Date).toISOString() : v)),
    );
    await owner.query('DROP TABLE IF EXISTS bench_plain, bench_integrity, bench_indexed');
    await owner.query('CREATE TABLE bench_plain (LIKE audit_ledger)');
    await owner.query(
      'CREATE TABLE bench_integrity (LIKE audit_ledger INCLUDING CONSTRAINTS, PRIMARY KEY (seq), UNIQUE (entry_id), UNIQUE (prev_hash), UNIQUE (entry_hash))',
    );
    await owner.query('CREATE TABLE bench_indexed (LIKE audit_ledger INCLUDING ALL)');
    // Warm up every table's plans.
    for (const t of ['bench_plain', 'bench_integrity', 'bench_indexed']) await rawInsert(owner, t, values.slice(0, 256), maxBatch);
    await owner.query('TRUNCATE bench_plain, bench_integrity, bench_indexed');
    const plainSeconds = await rawInsert(owner, 'bench_plain', values, maxBatch);
    const integritySeconds = await rawInsert(owner, 'bench_integrity', values, maxBatch);
    const indexedSeconds = await rawInsert(owner, 'bench_indexed', values, maxBatch);
    await owner.query('DROP TABLE bench_plain, bench_integrity, bench_indexed');

    const ledgerPerSecond = entries / ledgerSeconds;
    const rawPlainPerSecond = values.length / plainSeconds;
    const rawIndexedPerSecond = values.length / indexedSeconds;
    return {
      entries,
      window,
      ledgerPerSecond,
      ledgerSeconds,
      meanBatch: entries / Math.max(1, commitsAfter - commitsBefore),
      nodeCpuMicrosPerEntry: (cpu.user + cpu.system) / entries,
      nodeCores: (cpu.user + cpu.system) / 1e6 / ledgerSeconds,
      rawPlainPerSecond,
      rawIntegrityPerSecond: values.length / integritySeconds,
      rawIndexedPerSecond,
      ratioToPlain: ledgerPerSecond / rawPlainPerSecond,
      ratioToIndexed: ledgerPerSecond / rawIndexedPerSecond,
    };
  } finally {
    await ledger.close();
    await pool.end();
    await owner.end();
  }
}

export interface VerifyBenchResult {
  readonly entries: number;
  readonly fillSeconds: number;
  readonly verifySeconds: number;
  readonly perSecond: number;
  /** CPU of this process during verification (parsing rows, hashing): the rest is waiting for PostgreSQL. */
  readonly nodeCpuSeconds: number;
  readonly ok: boolean;
}

/** A text[] literal for PostgreSQL (`{"a","b"}`). */
function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}

/**
 * Fills an EMPTY ledger with `entries` chained entries as the owner, every hash computed with the ledger's own
 * `entryHash`, in unnest batches of 10,000; the next batch is hashed while the previous one is being inserted.
 * Only for this throw-away database: the secondary indexes and UNIQUE constraints (not the primary key on seq) are
 * dropped first, since verification reads by seq only and a bulk fill through nine indexes (one GIN) takes minutes.
 */
export async function fillLedger(ownerUrl: string, entries: number, onProgress?: (done: number) => void): Promise<number> {
  const client = new Client({ connectionString: ownerUrl });
  await client.connect();
  // A second connection, so that two batches are inserted at once while the next one is hashed.
  const second = new Client({ connectionString: ownerUrl });
  await second.connect();
  const started = process.hrtime.bigint();
  let hashingMs = 0;
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
    await client.query('SET synchronous_commit = off');
    await second.query('SET synchronous_commit = off');
    const BATCH = 10_000;
    let prevHash = GENESIS_HASH;
    const base = Date.now() - entries; // one entry per millisecond, ending now

    const build = (from: number): unknown[][] => {
      const n = Math.min(BATCH, entries - from + 1);
      const cols: unknown[][] = Array.from({ length: 17 }, () => []);
      for (let k = 0; k < n; k++) {
        const seq = from + k;
        const e = decisionEntry(seq);
        const a = e.actor!;
        const recordedAt = new Date(base + seq);
        const payloadJson = JSON.stringify(e.payload);
        const row = {
          seq,
          entryId: randomUUID(),
          recordedAt,
          kind: e.kind,
          outcome: e.outcome,
          requestId: e.requestId,
          agencyId: a.agencyId,
          agencyType: a.agencyType,
          clientId: a.clientId,
          practitioner: null,
          role: a.role,
          issuer: a.issuer,
          purpose: e.purpose ?? null,
          rules: [...(e.rules ?? [])],
          payload: JSON.parse(payloadJson) as NewAuditEntry['payload'],
          prevHash,
        };
        const hash = entryHash(row);
        const values = [
          String(seq),
          row.entryId,
          recordedAt.toISOString(),
          row.kind,
          row.outcome,
          row.requestId,
          row.agencyId,
          row.agencyType,
          row.clientId,
          null,
          row.role,
          row.issuer,
          row.purpose,
          textArrayLiteral(row.rules),
          payloadJson,
          prevHash,
          hash,
        ];
        values.forEach((v, c) => (cols[c] as unknown[]).push(v));
        prevHash = hash;
      }
      return cols;
    };
    const insert = (db: Client, cols: unknown[][]) =>
      db.query(
        `INSERT INTO audit_ledger (${COLUMNS})
         SELECT s, e, r, k, o, q, ag, at, ci, pr, ro, iss, pu, ru::text[], pa::jsonb, ph, eh
           FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
                AS t(s, e, r, k, o, q, ag, at, ci, pr, ro, iss, pu, ru, pa, ph, eh)`,
        cols,
      );
    const inFlight: Array<Promise<unknown> | undefined> = [undefined, undefined];
    let batchNo = 0;
    for (let from = 1; from <= entries; from += BATCH, batchNo++) {
      const t0 = process.hrtime.bigint();
      const cols = build(from); // hashed while earlier batches are inserted
      hashingMs += Number(process.hrtime.bigint() - t0) / 1e6;
      const lane = batchNo % 2;
      await inFlight[lane];
      inFlight[lane] = insert(lane === 0 ? client : second, cols);
      const done = Math.min(entries, from + BATCH - 1);
      void inFlight[lane].then(
        () => onProgress?.(done),
        () => undefined,
      );
    }
    await Promise.all(inFlight.filter((p): p is Promise<unknown> => p !== undefined));
    onProgress?.(-hashingMs);
    await client.query('SET synchronous_commit = on');
    await client.query('VACUUM (ANALYZE) audit_ledger');
  } finally {
    await client.end();
    await second.end();
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export async function benchVerify(
  ownerUrl: string,
  appUrl: string,
  entries: number,
  onProgress?: (line: string) => void,
): Promise<VerifyBenchResult> {
  const fillSeconds = await fillLedger(ownerUrl, entries, (done) => {
    if (done < 0) onProgress?.(`  (hashing took ${(-done / 1000).toFixed(1)} s of the fill)`);
    else if (done % 200_000 === 0 || done === entries) onProgress?.(`  filled ${done.toLocaleString('en-GB')} entries`);
  });
  const pool = new Pool({ connectionString: appUrl, max: 2 });
  try {
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    const report = await verifyLedger(pool);
    const cpu = process.cpuUsage(cpuBefore);
    const verifySeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (report.entriesChecked !== entries) throw new Error(`verified ${report.entriesChecked} entries, expected ${entries}`);
    return {
      entries,
      fillSeconds,
      verifySeconds,
      perSecond: entries / verifySeconds,
      nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
      ok: report.ok,
    };
  } finally {
    await pool.end();
  }
}
