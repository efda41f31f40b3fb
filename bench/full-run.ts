/**
 * The whole bench (`npm run bench` without a mode option): the gateway under load, the bare Express route, the
 * optional WORKERS=2 and --profile runs, the ledger check, ledger appends and verification; prints the table and
 * writes bench/results/<timestamp>.json.
 */
import { Client } from 'pg';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded';
import { createDatabase, prepareDatabase } from '../src/db/bootstrap';
import { freePort } from '../src/db/free-port';
import { decisionRequests } from './decision-requests';
import { runGateway, startBare, type Context, type GatewayRun } from './gateway-load';
import { sliceCount } from './slices';
import { startBenchIssuers, type BenchIssuers } from './issuer';
import { benchAppends, benchVerify, type AppendBenchResult, type VerifyBenchResult } from './ledger-bench';
import { APP_PASSWORD, AUDIENCE, GOALS, ROOT, gatewayNodeOptions, type Options } from './options';
import { postmasterPid, treeCpuSeconds, type CpuUse } from './processes';
import { formatProfile } from './profile';
import { fmt, msPerRequest, pct, table } from './report';
import { databaseUrl } from './seal-bench';

/** What is left of the main thread's wall time when it is neither on a core nor waiting for one: waiting for I/O. */
const idleOf = (s: NonNullable<CpuUse['schedule']>): number => Math.max(0, 1 - s.mainThreadOnCpu - s.mainThreadWaitingForCpu);

/** The main thread's three shares, as the log line and the table both show them. */
const mainThreadShares = (s: NonNullable<CpuUse['schedule']>): string =>
  `${pct(s.mainThreadOnCpu)} / ${pct(s.mainThreadWaitingForCpu)} / ${pct(idleOf(s))}`;

/** The table's rows for how the scheduler served a run (none where /proc has no schedstat). */
function scheduleRows(c: CpuUse, withPostgres: boolean): Array<[string, string, string, string]> {
  if (!c.schedule) return [];
  return [
    ['  main thread: on a core / waiting for one / idle', mainThreadShares(c.schedule), '', ''],
    ...(withPostgres
      ? [['  PostgreSQL waiting for a core (cores)', String(c.schedule.postgresWaitingForCpu), '', ''] as [string, string, string, string]]
      : []),
  ];
}

export async function runFullBench(argv: readonly string[], o: Options): Promise<void> {
  const gatewayMain = path.resolve(
    argv.find((a) => a.startsWith('--gateway-main='))?.split('=')[1] ?? path.join(ROOT, 'dist', 'src', 'main.js'),
  );
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = new Date();
  const loadBefore = os.loadavg()[0] ?? 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-bench-'));
  let pg: EmbeddedDatabase | undefined;
  let issuers: BenchIssuers | undefined;
  try {
    log(
      `bench: temp dir ${dir}; load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ${os.cpus().length} CPUs`,
    );
    const clusterDir = path.join(dir, 'pg-data', 'pg');
    pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg-data'), port: await freePort() });
    const prepared = async (name: string) => {
      const ownerUrl = await createDatabase(pg!.adminUrl, name);
      const { appUrl } = await prepareDatabase({ ownerUrl, appPassword: APP_PASSWORD });
      return { ownerUrl, appUrl, superuserUrl: databaseUrl(pg!.adminUrl, name) };
    };
    const gatewayDb = await prepared('bench_gateway');
    issuers = await startBenchIssuers(
      [
        { id: 'bench-police', agencyType: 'police', allowedRoles: ['system', 'police_officer'] },
        { id: 'bench-csc', agencyType: 'childrens_social_care', allowedRoles: ['system', 'social_worker', 'auditor'] },
        { id: 'bench-school', agencyType: 'school', allowedRoles: ['system', 'designated_safeguarding_lead'] },
        { id: 'bench-health-visiting', agencyType: 'health_visiting', allowedRoles: ['system', 'health_visitor'] },
      ],
      AUDIENCE,
    );
    const agenciesFile = path.join(dir, 'agencies.json');
    writeFileSync(agenciesFile, JSON.stringify({ agencies: issuers.agencies }, null, 2));
    const ctx: Context = {
      o,
      dir,
      clusterDir,
      ownerUrl: gatewayDb.ownerUrl,
      appUrl: gatewayDb.appUrl,
      agenciesFile,
      requests: await decisionRequests(issuers, o.denials),
      gatewayMain,
    };
    const cpuLine = (c: CpuUse, rps?: number) =>
      `CPU cores: server ${c.server}, PostgreSQL ${c.postgres}, load generator ${c.loadGenerator}${rps ? `; server CPU per request ${msPerRequest(c, rps)} ms` : ''}`;
    const scheduleLine = (c: CpuUse) =>
      c.schedule
        ? `; main thread on a core / waiting for one / idle ${mainThreadShares(c.schedule)}; PostgreSQL waiting for a core ${c.schedule.postgresWaitingForCpu} cores`
        : '';

    const count = sliceCount(o.duration);
    log(
      `bench: gateway (node ${[...gatewayNodeOptions(), path.relative(ROOT, gatewayMain)].join(' ')}, as npm start runs it), 1 worker, ${o.connections} connections, ${o.duration} s, LOG_LEVEL=${o.logLevel}; ` +
        `and the bare Express route under the same load: ${count} slices of ${fmt(o.duration / count, 1)} s each, in turn (gateway, bare, gateway…)`,
    );
    const bareServer = await startBare(ctx);
    let gw1: GatewayRun;
    try {
      gw1 = await runGateway(ctx, 1, o.logLevel, false, bareServer);
    } finally {
      await bareServer.stop();
    }
    if (!gw1.bare) throw new Error('the bare route was not measured');
    const bare = gw1.bare;
    log(
      `  ${fmt(gw1.load.requestsPerSecond)} decisions/s, p50 ${gw1.load.p50Ms} ms, p99 ${gw1.load.p99Ms} ms, non-2xx ${gw1.load.non2xx}, errors ${gw1.load.errors}; ${cpuLine(gw1.cpu, gw1.load.requestsPerSecond)}; ${fmt(gw1.meanFlush, 1)} entries per ledger commit${scheduleLine(gw1.cpu)}`,
    );

    log("bench: bare Express route, same load, in the slices between the gateway's");
    log(
      `  ${fmt(bare.load.requestsPerSecond)} req/s, p50 ${bare.load.p50Ms} ms, p99 ${bare.load.p99Ms} ms; ${cpuLine(bare.cpu, bare.load.requestsPerSecond)}${scheduleLine(bare.cpu)}`,
    );

    let gw2: GatewayRun | undefined;
    if (o.workers2) {
      log('bench: gateway, WORKERS=2');
      gw2 = await runGateway(ctx, 2, o.logLevel, false);
      log(
        `  ${fmt(gw2.load.requestsPerSecond)} decisions/s, p50 ${gw2.load.p50Ms} ms, p99 ${gw2.load.p99Ms} ms; ${cpuLine(gw2.cpu, gw2.load.requestsPerSecond)}`,
      );
    }
    let profiled: GatewayRun | undefined;
    if (o.profile) {
      log('bench: gateway, 1 worker, with --cpu-prof');
      profiled = await runGateway(ctx, 1, o.logLevel, true);
      if (profiled.profile) log(formatProfile(profiled.profile));
    }

    // Every answered decision is in the gateway's ledger (at least as many entries as 2xx answers).
    const owner = new Client({ connectionString: gatewayDb.ownerUrl });
    await owner.connect();
    const recorded = Number(
      (await owner.query<{ n: string }>("SELECT count(*)::text AS n FROM audit_ledger WHERE kind = 'decision'")).rows[0]?.n ?? 0,
    );
    await owner.end();
    const answered = [gw1, gw2, profiled].reduce(
      (sum, r) => sum + (r ? r.warmup.total - r.warmup.non2xx + r.load.total - r.load.non2xx : 0),
      0,
    );

    let appends: AppendBenchResult | undefined;
    if (!o.skipLedger) {
      log(`bench: ledger appends, ${fmt(o.appendEntries)} entries`);
      const ledgerDb = await prepared('bench_ledger');
      appends = await benchAppends(ledgerDb.ownerUrl, ledgerDb.appUrl, o.appendEntries, undefined, undefined, () =>
        treeCpuSeconds(postmasterPid(clusterDir)),
      );
      log(
        `  PgAuditLedger ${fmt(appends.ledgerPerSecond)}/s (mean batch ${fmt(appends.meanBatch, 1)}, node CPU ${fmt(appends.nodeCpuMicrosPerEntry)} µs per entry = ${fmt(appends.nodeCores, 2)} cores); raw plain ${fmt(appends.rawPlainPerSecond)}/s; raw PK+UNIQUE ${fmt(appends.rawIntegrityPerSecond)}/s; raw indexed ${fmt(appends.rawIndexedPerSecond)}/s`,
      );
    }

    let verify: VerifyBenchResult | undefined;
    if (!o.skipVerify) {
      log(`bench: verification of ${fmt(o.verifyEntries)} entries (filling first)`);
      const verifyDb = await prepared('bench_verify');
      verify = await benchVerify(verifyDb.superuserUrl, verifyDb.appUrl, o.verifyEntries, log);
      log(
        `  filled in ${fmt(verify.fillSeconds, 1)} s; verified in ${fmt(verify.verifySeconds, 1)} s (${fmt(verify.perSecond)}/s, node CPU ${fmt(verify.nodeCpuSeconds, 1)} s), ok=${verify.ok}`,
      );
    }

    const ratio = gw1.load.requestsPerSecond / bare.load.requestsPerSecond;
    const yes = (b: boolean) => (b ? 'yes' : 'NO');
    const cores = (c: CpuUse) => `${c.server} / ${c.postgres} / ${c.loadGenerator}`;
    const rows: Array<[string, string, string, string]> = [
      ['measure', 'result', 'goal', 'met'],
      [
        `audited decisions/s (1 worker, ${o.connections} conn, ${o.duration} s in ${count} slices)`,
        fmt(gw1.load.requestsPerSecond),
        `≥ ${fmt(GOALS.decisionsPerSecond)}`,
        yes(gw1.load.requestsPerSecond >= GOALS.decisionsPerSecond),
      ],
      [
        '  latency p50 / p90 / p99 (ms, every response of the slices)',
        `${gw1.load.p50Ms} / ${gw1.load.p90Ms} / ${gw1.load.p99Ms}`,
        `p99 < ${GOALS.p99Ms}`,
        yes(gw1.load.p99Ms < GOALS.p99Ms),
      ],
      ['  non-2xx / errors', `${gw1.load.non2xx} / ${gw1.load.errors}`, '0 / 0', yes(gw1.load.non2xx === 0 && gw1.load.errors === 0)],
      ['  CPU cores: gateway / PostgreSQL / load generator', cores(gw1.cpu), '', ''],
      ['  gateway CPU per decision (ms)', msPerRequest(gw1.cpu, gw1.load.requestsPerSecond), '', ''],
      ['  ledger entries per commit (group commit)', fmt(gw1.meanFlush, 1), '', ''],
      ...scheduleRows(gw1.cpu, true),
      ['gateway start to ready (spawn to /readyz 200, ms)', fmt(gw1.readyMs), `< ${fmt(GOALS.readyMs)}`, yes(gw1.readyMs < GOALS.readyMs)],
      ...(gw1.peakRssMb !== undefined
        ? [['  gateway peak resident memory (MiB)', fmt(gw1.peakRssMb), '', ''] as [string, string, string, string]]
        : []),
      [
        `bare Express req/s (same load, slices in between${o.barePresetPrototypes ? '; preset prototypes' : ''})`,
        fmt(bare.load.requestsPerSecond),
        '',
        '',
      ],
      ['  CPU cores: server / - / load generator', cores(bare.cpu), '', ''],
      ['  server CPU per request (ms)', msPerRequest(bare.cpu, bare.load.requestsPerSecond), '', ''],
      ...scheduleRows(bare.cpu, false),
      ['  gateway / bare', pct(ratio), `≥ ${pct(GOALS.ratioToBare)}`, yes(ratio >= GOALS.ratioToBare)],
    ];
    if (gw2) {
      rows.push([`audited decisions/s (WORKERS=2)`, fmt(gw2.load.requestsPerSecond), '', '']);
      rows.push(['  latency p50 / p90 / p99 (ms)', `${gw2.load.p50Ms} / ${gw2.load.p90Ms} / ${gw2.load.p99Ms}`, '', '']);
      rows.push(['  CPU cores: gateway / PostgreSQL / load generator', cores(gw2.cpu), '', '']);
    }
    if (appends) {
      rows.push([
        `ledger appends/s (PgAuditLedger, ${fmt(appends.window)} callers)`,
        `${fmt(appends.ledgerPerSecond)} (batch ${fmt(appends.meanBatch, 0)})`,
        '',
        '',
      ]);
      rows.push([
        'raw multi-row INSERT rows/s: plain / PK+UNIQUE / all 9 ledger indexes',
        `${fmt(appends.rawPlainPerSecond)} / ${fmt(appends.rawIntegrityPerSecond)} / ${fmt(appends.rawIndexedPerSecond)}`,
        '',
        '',
      ]);
      rows.push([
        '  ledger / raw plain (indexed)',
        `${pct(appends.ratioToPlain)} (${pct(appends.ratioToIndexed)})`,
        `≥ ${pct(GOALS.ledgerToRaw)}`,
        yes(appends.ratioToPlain >= GOALS.ledgerToRaw),
      ]);
    }
    if (verify) {
      rows.push([
        `verifyLedger, ${fmt(verify.entries)} entries`,
        `${fmt(verify.verifySeconds, 1)} s (${fmt(verify.perSecond)}/s)`,
        `≥ ${fmt(GOALS.verifyPerSecond)}/s`,
        yes(verify.perSecond >= GOALS.verifyPerSecond && verify.ok),
      ]);
      rows.push(['  at that rate: 10,000,000 entries', `${fmt(10_000_000 / verify.perSecond, 0)} s`, '', '']);
    }
    const output = table(rows);
    process.stdout.write(
      `\nSafeguard Gateway benchmark, ${started.toISOString()} (${os.cpus().length} CPUs, Node ${process.version}, 1-min load average before ${loadBefore.toFixed(2)})\n${output}\n`,
    );
    process.stdout.write(
      `Ledger check: ${fmt(recorded)} decision entries recorded for ${fmt(answered)} 2xx answers${recorded >= answered ? '' : ' — FEWER ENTRIES THAN ANSWERS'}.\n`,
    );

    const results = path.join(ROOT, 'bench', 'results');
    mkdirSync(results, { recursive: true });
    const file = path.join(results, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ started: started.toISOString(), machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgBefore: loadBefore, node: process.version }, options: o, gatewayMain: path.relative(ROOT, gatewayMain), goals: GOALS, benchSeconds: Math.round((Date.now() - started.getTime()) / 1000), gateway: { ...gw1, bare: undefined }, workers2: gw2, bare, ratioToBare: ratio, appends, verify, profile: profiled?.profile, decisionEntriesRecorded: recorded, answered2xx: answered, table: output }, null, 2)}\n`,
    );
    process.stdout.write(`Results: ${path.relative(ROOT, file)}\n`);
    if (recorded < answered) process.exitCode = 1;
  } finally {
    await issuers?.close();
    await pg?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
