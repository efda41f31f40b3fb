/**
 * The bench's modes that run one ledger measurement alone, each writing its own bench/results/<mode>-<timestamp>.json:
 * --ledger-only (appends, n rounds on a fresh database each), --verify-only (verification) and --seal (./seal-bench.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, prepareDatabase } from '../src/db/bootstrap';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded';
import { freePort } from '../src/db/free-port';
import { benchAppends, benchVerify, type AppendBenchResult } from './ledger-bench';
import { startBulkLoadPostgres } from './ledger-fill';
import { APP_PASSWORD, GOALS, ROOT, type Options } from './options';
import { postmasterPid, treeCpuSeconds } from './processes';
import { fmt, pct, table } from './report';
import { benchSeal, databaseUrl, sealTable } from './seal-bench';

export async function runLedgerBench(argv: readonly string[], o: Options): Promise<void> {
  const rounds = Number(argv.find((a) => a.startsWith('--ledger-rounds='))?.split('=')[1] ?? '3');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--ledger-rounds must be a positive whole number');
  const maxBatch = Number(argv.find((a) => a.startsWith('--ledger-max-batch='))?.split('=')[1] ?? '256');
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error('--ledger-max-batch must be a positive whole number');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = new Date();
  const loadBefore = os.loadavg()[0] ?? 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-bench-ledger-'));
  let pg: EmbeddedDatabase | undefined;
  const all: AppendBenchResult[] = [];
  try {
    pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg-data'), port: await freePort() });
    const pgPid = postmasterPid(path.join(dir, 'pg-data', 'pg'));
    for (let r = 0; r < rounds; r++) {
      const ownerUrl = await createDatabase(pg.adminUrl, `bench_ledger_${r}`);
      const { appUrl } = await prepareDatabase({ ownerUrl, appPassword: APP_PASSWORD });
      const a = await benchAppends(ownerUrl, appUrl, o.appendEntries, Math.max(1024, 4 * maxBatch), maxBatch, () => treeCpuSeconds(pgPid));
      const c = a.postgresCpuMicros;
      all.push(a);
      log(
        `  round ${r + 1}: PgAuditLedger ${fmt(a.ledgerPerSecond)}/s (mean batch ${fmt(a.meanBatch, 1)}, node CPU ${fmt(a.nodeCpuMicrosPerEntry)} µs per entry); raw plain ${fmt(a.rawPlainPerSecond)}/s, PK+UNIQUE ${fmt(a.rawIntegrityPerSecond)}/s, indexed ${fmt(a.rawIndexedPerSecond)}/s; ledger / plain ${pct(a.ratioToPlain)}, / indexed ${pct(a.ratioToIndexed)}; PostgreSQL CPU µs per row: ledger ${c?.ledger}, plain ${c?.rawPlain}, PK+UNIQUE ${c?.rawIntegrity}, indexed ${c?.rawIndexed}`,
      );
    }
  } finally {
    await pg?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  // The round with the median ratio to plain is `appends`; every round is kept.
  const appends = [...all].sort((x, y) => x.ratioToPlain - y.ratioToPlain)[Math.floor(all.length / 2)] as AppendBenchResult;
  const output = table([
    ['round', 'ledger/s (batch)', 'raw plain / PK+UNIQUE / indexed rows/s', 'ledger / plain (indexed)'],
    ...all.map((a, i): [string, string, string, string] => [
      String(i + 1),
      `${fmt(a.ledgerPerSecond)} (${fmt(a.meanBatch, 0)})`,
      `${fmt(a.rawPlainPerSecond)} / ${fmt(a.rawIntegrityPerSecond)} / ${fmt(a.rawIndexedPerSecond)}`,
      `${pct(a.ratioToPlain)} (${pct(a.ratioToIndexed)})`,
    ]),
  ]);
  process.stdout.write(
    `\nSafeguard Gateway ledger appends, ${started.toISOString()} (${os.cpus().length} CPUs, Node ${process.version}, 1-min load average before ${loadBefore.toFixed(2)}; goal ledger / plain ≥ ${pct(GOALS.ledgerToRaw)})\n${output}\n`,
  );
  const results = path.join(ROOT, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  const file = path.join(results, `ledger-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ started: started.toISOString(), machine: { cpus: os.cpus().length, loadavgBefore: loadBefore, node: process.version }, options: { ...o, ledgerMaxBatch: maxBatch }, goals: GOALS, appends, rounds: all, table: output }, null, 2)}\n`,
  );
  process.stdout.write(`Results: ${path.relative(ROOT, file)}\n`);
}

export async function runVerifyOnly(o: Options): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = new Date();
  const loadBefore = os.loadavg();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-bench-verify-'));
  let pg: EmbeddedDatabase | undefined;
  try {
    log(`bench: verification only, ${fmt(o.verifyEntries)} entries; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
    pg = await startBulkLoadPostgres(path.join(dir, 'pg-data'), await freePort());
    const ownerUrl = await createDatabase(pg.adminUrl, 'bench_verify');
    const { appUrl } = await prepareDatabase({ ownerUrl, appPassword: APP_PASSWORD });
    const verify = await benchVerify(databaseUrl(pg.adminUrl, 'bench_verify'), appUrl, o.verifyEntries, log);
    const output = `verifyLedger, ${fmt(verify.entries)} entries: filled in ${fmt(verify.fillSeconds, 1)} s; verified in ${fmt(verify.verifySeconds, 1)} s (${fmt(verify.perSecond)}/s, node CPU ${fmt(verify.nodeCpuSeconds, 1)} s), ok=${verify.ok}\n`;
    process.stdout.write(
      `\nSafeguard Gateway ledger verification, ${started.toISOString()} (${os.cpus().length} CPUs, Node ${process.version})\n${output}`,
    );
    const results = path.join(ROOT, 'bench', 'results');
    mkdirSync(results, { recursive: true });
    const file = path.join(results, `verify-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ started: started.toISOString(), machine: { cpus: os.cpus().length, loadavgBefore: loadBefore, loadavgAfter: os.loadavg(), node: process.version }, verify, table: output }, null, 2)}\n`,
    );
    process.stdout.write(`Results: ${path.relative(ROOT, file)}\n`);
  } finally {
    await pg?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runSealBench(argv: readonly string[]): Promise<void> {
  const value = (name: string, fallback: string): string => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
  const sizes = value('seal-entries', '1000000').split(',').map(Number);
  const seconds = Number(value('seal-load-seconds', '10'));
  if (!sizes.every((n) => Number.isInteger(n) && n > 0) || !Number.isInteger(seconds) || seconds < 1)
    throw new Error('--seal-entries=<n>[,<n>…] and --seal-load-seconds=<s> must be positive whole numbers');
  const started = new Date();
  const loadavgBefore = os.loadavg();
  process.stderr.write(`bench: load average ${loadavgBefore.map((l) => l.toFixed(2)).join(' ')}\n`);
  const results = path.join(ROOT, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  const file = path.join(results, `seal-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  // Written after every ledger size (`partial`), then once more with the load figures.
  const partial = (sizes: unknown): void =>
    writeFileSync(
      file,
      `${JSON.stringify({ started: started.toISOString(), partial: true, machine: { cpus: os.cpus().length, loadavgBefore, loadavgNow: os.loadavg() }, seal: { sizes } }, null, 2)}\n`,
    );
  const result = await benchSeal(sizes, seconds, (line) => process.stderr.write(`${line}\n`), argv.includes('--seal-verify'), partial);
  const output = sealTable(result);
  process.stdout.write(
    `\nSafeguard Gateway ledger sealing, ${started.toISOString()} (${os.cpus().length} CPUs, Node ${process.version})\n${output}`,
  );
  writeFileSync(
    file,
    `${JSON.stringify({ started: started.toISOString(), machine: { cpus: os.cpus().length, loadavgBefore, loadavgAfter: os.loadavg() }, seal: result, table: output }, null, 2)}\n`,
  );
  process.stdout.write(`Results: ${path.relative(ROOT, file)}\n`);
}
