/**
 * `npm run bench -- --seal [--seal-entries=1000000,10000000] [--seal-load-seconds=10] [--seal-verify]`: what sealing costs now
 * that a checkpoint keeps its compact range (src/audit/checkpoints/seal.ts), and how soon an answer's entry is sealed.
 * Runs on its own embedded PostgreSQL (only this, not the gateway load bench) and prints one table.
 *
 * For each ledger size N: fill N real chained entries with their MACs (./ledger-fill.ts), seal once from nothing (the
 * full pass every seal used to make: it reads and re-hashes all N), then append 1,000 entries and seal again (the
 * incremental seal: O(new entries + log n)), five times, median, and the same with 1 new entry. With --seal-verify,
 * verifyLedger then streams the whole chain of that ledger (the 10M verification figure without a second fill).
 *
 * Answer-to-sealed under load: 32 concurrent appenders write through PgAuditLedger (group commit, each waits for
 * its own commit, as an answer does) for the given seconds while the periodic sealer runs every second; per entry,
 * the time from its commit (recorded_at) to the signing of the first checkpoint covering it (signed_at), both from
 * the database clock: p50 / p99 / max.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import pino from 'pino';
import { freePort } from '../src/db/free-port';
import type { EmbeddedDatabase } from '../src/db/embedded';
import { createDatabase, prepareDatabase } from '../src/db/bootstrap';
import { PgAuditLedger } from '../src/audit/pg-ledger';
import { sealLedger, startCheckpointer } from '../src/audit/checkpoints';
import { verifyLedger } from '../src/audit/verify';
import { loadGatewayKeys, type GatewayKeys } from '../src/keys/gateway-keys';
import { entryMacKey, type EntryMacKey } from '../src/audit/entry-mac';
import { decisionEntry } from './decision-entry';
import { fillLedger, startBulkLoadPostgres } from './ledger-fill';

export interface SealSizeResult {
  readonly entries: number;
  readonly fillSeconds: number;
  /** Sealing N entries from no checkpoint: the cost of every seal before compact ranges. */
  readonly fullSealSeconds: number;
  /** Median of five incremental seals of 1,000 new entries on top of N. */
  readonly incremental1000Ms: number;
  /** Median of five incremental seals of 1 new entry on top of N. */
  readonly incremental1Ms: number;
  /** With --seal-verify: verifyLedger (streaming, O(n)) over the same N entries, and its rate. */
  readonly verifySeconds?: number;
  readonly verifyPerSecond?: number;
}

export interface SealLoadResult {
  readonly seconds: number;
  readonly appenders: number;
  readonly entries: number;
  readonly entriesPerSecond: number;
  readonly checkpoints: number;
  readonly answerToSealedP50Ms: number;
  readonly answerToSealedP99Ms: number;
  readonly answerToSealedMaxMs: number;
}

export interface SealBenchResult {
  readonly sizes: SealSizeResult[];
  readonly load: SealLoadResult;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

async function sealOnce(pool: Pool, keys: GatewayKeys, macKey: EntryMacKey): Promise<number> {
  const t = process.hrtime.bigint();
  // As the gateway seals: every new entry's MAC is checked before it is signed.
  const r = await sealLedger(pool, keys.key('ledger'), { jwks: keys.jwks(), noteKey: keys.note(), macKey });
  if (!r.created) throw new Error('nothing was sealed');
  return ms(t);
}

async function sizeRun(
  superuserUrl: string,
  appUrl: string,
  entries: number,
  keys: GatewayKeys,
  macKey: EntryMacKey,
  log: (l: string) => void,
  verify: boolean,
): Promise<SealSizeResult> {
  const fillSeconds = await fillLedger(superuserUrl, entries, {
    macKey,
    onProgress: (done) => log(`  filled ${done.toLocaleString('en-GB')} entries`),
  });
  log(`  filled in ${fillSeconds.toFixed(1)} s`);
  const pool = new Pool({ connectionString: appUrl, max: 4 });
  const ledger = new PgAuditLedger(pool, { macKey });
  try {
    const fullSealSeconds = (await sealOnce(pool, keys, macKey)) / 1000;
    log(`  full seal of ${entries.toLocaleString('en-GB')} entries: ${fullSealSeconds.toFixed(1)} s`);
    const thousand: number[] = [];
    const one: number[] = [];
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => ledger.append(decisionEntry(entries + round * 1001 + i))));
      thousand.push(await sealOnce(pool, keys, macKey));
      await ledger.append(decisionEntry(entries + round * 1001 + 1000));
      one.push(await sealOnce(pool, keys, macKey));
    }
    const result = { entries, fillSeconds, fullSealSeconds, incremental1000Ms: median(thousand), incremental1Ms: median(one) };
    if (!verify) return result;
    // The same ledger, verified from the start as audit:verify does (the chain: every hash, every link).
    const t = process.hrtime.bigint();
    const report = await verifyLedger(pool);
    const verifySeconds = ms(t) / 1000;
    if (!report.ok || report.entriesChecked !== entries + 5 * 1001)
      throw new Error(`verification failed: ${JSON.stringify(report).slice(0, 300)}`);
    log(`  verified ${report.entriesChecked.toLocaleString('en-GB')} entries in ${verifySeconds.toFixed(1)} s`);
    return { ...result, verifySeconds, verifyPerSecond: report.entriesChecked / verifySeconds };
  } finally {
    await ledger.close();
    await pool.end();
  }
}

async function loadRun(appUrl: string, ownerUrl: string, keys: GatewayKeys, macKey: EntryMacKey, seconds: number): Promise<SealLoadResult> {
  const pool = new Pool({ connectionString: appUrl, max: 6 });
  const ledger = new PgAuditLedger(pool, { macKey });
  const sealer = startCheckpointer({ pool, keys, macKey, sinks: [], intervalMs: 1000, logger: pino({ level: 'silent' }) });
  const appenders = 32;
  const until = Date.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (Date.now() < until) await ledger.append(decisionEntry(n++));
    }),
  );
  await sealer.sealNow();
  await sealer.stop();
  await ledger.close();
  await pool.end();
  const owner = new Client({ connectionString: ownerUrl });
  await owner.connect();
  try {
    // Per entry: the first checkpoint covering it, and how long after the entry's commit it was signed.
    const { rows } = await owner.query<{ p50: number; p99: number; max: number; entries: string; checkpoints: string }>(`
      WITH e AS (
        SELECT l.seq, l.recorded_at,
               (SELECT c.signed_at FROM ledger_checkpoints c WHERE c.tree_size >= l.seq ORDER BY c.tree_size LIMIT 1) AS sealed_at
          FROM audit_ledger l)
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sealed_at - recorded_at) * 1000) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM sealed_at - recorded_at) * 1000) AS p99,
             max(extract(epoch FROM sealed_at - recorded_at) * 1000)::float8 AS max,
             count(*)::text AS entries, (SELECT count(*) FROM ledger_checkpoints)::text AS checkpoints
        FROM e`);
    const r = rows[0];
    if (!r) throw new Error('no result');
    return {
      seconds,
      appenders,
      entries: Number(r.entries),
      entriesPerSecond: Number(r.entries) / seconds,
      checkpoints: Number(r.checkpoints),
      answerToSealedP50Ms: Math.round(r.p50),
      answerToSealedP99Ms: Math.round(r.p99),
      answerToSealedMaxMs: Math.round(r.max),
    };
  } finally {
    await owner.end();
  }
}

/** The same server and credentials, another database. */
export function databaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export async function benchSeal(
  sizes: readonly number[],
  loadSeconds: number,
  log: (line: string) => void,
  verify = false,
  /** After each size (a long run keeps what it measured so far). */
  onSize?: (sizes: readonly SealSizeResult[]) => void,
): Promise<SealBenchResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-seal-bench-'));
  let pg: EmbeddedDatabase | undefined;
  try {
    pg = await startBulkLoadPostgres(path.join(dir, 'pg-data'), await freePort());
    const keys = await loadGatewayKeys(path.join(dir, 'data'), {});
    const macKey = entryMacKey(randomBytes(32).toString('hex'));
    const adminUrl = (pg as EmbeddedDatabase).adminUrl;
    const prepared = async (name: string): Promise<{ ownerUrl: string; appUrl: string; superuserUrl: string }> => {
      const ownerUrl = await createDatabase(adminUrl, name);
      const { appUrl } = await prepareDatabase({ ownerUrl, appPassword: 'bench-seal-app-password-not-secret' });
      return { ownerUrl, appUrl, superuserUrl: databaseUrl(adminUrl, name) };
    };
    const results: SealSizeResult[] = [];
    for (const entries of sizes) {
      log(`bench: sealing at ${entries.toLocaleString('en-GB')} entries (filling first)`);
      const name = `bench_seal_${entries}`;
      const db = await prepared(name);
      results.push(await sizeRun(db.superuserUrl, db.appUrl, entries, keys, macKey, log, verify));
      onSize?.(results);
      await dropDatabase(adminUrl, name); // 10M entries are ~13 GB: give the disk back before the next size
    }
    log(`bench: answer-to-sealed under load (${loadSeconds} s, sealer every 1 s)`);
    const db = await prepared('bench_seal_load');
    const load = await loadRun(db.appUrl, db.ownerUrl, keys, macKey, loadSeconds);
    return { sizes: results, load };
  } finally {
    await pg?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function sealTable(r: SealBenchResult): string {
  const verified = r.sizes.some((s) => s.verifySeconds !== undefined);
  const lines = [
    `ledger size | fill (s) | full seal, as every seal was (s) | incremental seal +1,000 entries (ms) | +1 entry (ms)${verified ? ' | verifyLedger (s, entries/s)' : ''}`,
  ];
  for (const s of r.sizes) {
    const v = s.verifySeconds !== undefined ? ` | ${s.verifySeconds.toFixed(1)} (${Math.round(s.verifyPerSecond ?? 0)}/s)` : '';
    lines.push(
      `${s.entries.toLocaleString('en-GB')} | ${s.fillSeconds.toFixed(1)} | ${s.fullSealSeconds.toFixed(1)} | ${s.incremental1000Ms.toFixed(0)} | ${s.incremental1Ms.toFixed(0)}${v}`,
    );
  }
  const l = r.load;
  lines.push(
    `answer-to-sealed, ${l.appenders} appenders for ${l.seconds} s (${Math.round(l.entriesPerSecond)} entries/s, ${l.checkpoints} checkpoints): p50 ${l.answerToSealedP50Ms} ms, p99 ${l.answerToSealedP99Ms} ms, max ${l.answerToSealedMaxMs} ms`,
  );
  return `${lines.join('\n')}\n`;
}
