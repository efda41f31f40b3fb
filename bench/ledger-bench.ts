/**
 * Ledger benchmarks, against a real PostgreSQL:
 *
 *   appends   PgAuditLedger.append of N decision-like entries with a window of concurrent callers (group commit), with
 *             an entry MAC key as the gateway has (src/gateway.ts),
 *             versus raw multi-row INSERTs of the SAME rows (read back from the ledger, entry_mac included) in batches of the ledger's
 *             batch size, one autocommit statement each, into (a) a plain table with the ledger's columns and no
 *             index, (b) a copy with all of the ledger's indexes and constraints. Same server, same synchronous_commit.
 *   verify    fills a fresh ledger with N real chained entries (./ledger-fill.ts: hashes as `entryHash` defines them,
 *             MACs, one server-side COPY), then times `verifyLedger`.
 */
import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import type { NewAuditEntry } from '../src/audit/entry';
import { decisionEntry } from './decision-entry';
import { entryMacKey } from '../src/audit/entry-mac';
import { PgAuditLedger } from '../src/audit/pg-ledger';
import { verifyLedger } from '../src/audit/verify';
import { fillLedger } from './ledger-fill';

export { decisionEntry };

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
  /** CPU of the whole PostgreSQL server (every backend and helper process) per entry or row, when the bench knows its pid: less disturbed by other load on the machine than the rates. */
  readonly postgresCpuMicros?: {
    readonly ledger: number;
    readonly rawPlain: number;
    readonly rawIntegrity: number;
    readonly rawIndexed: number;
  };
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
  postgresCpuSeconds?: () => number,
): Promise<AppendBenchResult> {
  const pgCpu = postgresCpuSeconds ?? (() => 0);
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
    const pgBefore = pgCpu();
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
    const pgLedger = pgCpu() - pgBefore;
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
    const pg0 = pgCpu();
    const plainSeconds = await rawInsert(owner, 'bench_plain', values, maxBatch);
    const pg1 = pgCpu();
    const integritySeconds = await rawInsert(owner, 'bench_integrity', values, maxBatch);
    const pg2 = pgCpu();
    const indexedSeconds = await rawInsert(owner, 'bench_indexed', values, maxBatch);
    const pg3 = pgCpu();
    const perRow = (seconds: number) => Math.round((seconds * 1e6) / values.length);
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
      ...(postgresCpuSeconds
        ? {
            postgresCpuMicros: {
              ledger: Math.round((pgLedger * 1e6) / entries),
              rawPlain: perRow(pg1 - pg0),
              rawIntegrity: perRow(pg2 - pg1),
              rawIndexed: perRow(pg3 - pg2),
            },
          }
        : {}),
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

/** `superuserUrl`: the bench cluster's superuser on the same database (the fill is a server-side COPY, ./ledger-fill.ts). */
export async function benchVerify(
  superuserUrl: string,
  appUrl: string,
  entries: number,
  onProgress?: (line: string) => void,
): Promise<VerifyBenchResult> {
  const fillSeconds = await fillLedger(superuserUrl, entries, {
    macKey: entryMacKey(randomBytes(32).toString('hex')),
    onProgress: (done) => onProgress?.(`  filled ${done.toLocaleString('en-GB')} entries`),
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
