/**
 * `npm run bench`: how fast is the gateway, with everything real? One run, loopback only, bounded time:
 *
 *   1. a fresh embedded PostgreSQL in a temp dir (src/db/embedded.ts), migrated (src/db/bootstrap.ts);
 *   2. local OpenID issuers for four agencies (./issuer.ts) minting real ES256 access tokens;
 *   3. the real gateway (`node dist/src/main.js`: `prepare` + `serve` of src/gateway.ts, logging JSON at info to a
 *      file) → autocannon POST /v1/decisions with several agencies' tokens: audited decisions/s, p50/p99 latency;
 *   4. the same load against a bare Express route (./bare.ts) on the same machine → ratio;
 *   5. ledger appends/s through PgAuditLedger vs raw batched multi-row INSERTs of the same rows (./ledger-bench.ts);
 *   6. verifyLedger speed on a ledger of 1,000,000 entries;
 *   7. optionally (--workers2) the gateway again with WORKERS=2; (--profile) a CPU profile of the gateway under load.
 *
 * Prints a table and writes bench/results/<timestamp>.json (git-ignored). Speed goals live here, never in tests.
 *
 * Options: --duration=<s> (10) --connections=<n> (32) --append-entries=<n> (20000) --verify-entries=<n> (500000; 10000000 for the national-size check in
 *          docs/ARCHITECTURE.md, about 20 minutes)
 *          --workers2 --profile --log-level=<pino level> (info) --skip-verify --skip-ledger --denials (three of the four
 *          requests asked so that they are refused, with routes)
 *          --ledger-only [--ledger-rounds=<n> (3)] [--ledger-max-batch=<n> (256; the raw side uses the same)]: ONLY the
 *          ledger appends (5), n rounds on one fresh database each
 *          --verify-only: ONLY the verification measurement (--verify-entries=<n>), no gateway and no load
 *          --seal [--seal-entries=1000000[,10000000]] [--seal-load-seconds=10] [--seal-verify]: ONLY the ledger-sealing measurements
 *          (./seal-bench.ts: full vs incremental seal cost at those sizes, answer-to-sealed time under load)
 */
import { freePort } from '../src/db/free-port';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded';
import { createDatabase, prepareDatabase } from '../src/db/bootstrap';
import { startBenchIssuers, type BenchIssuers } from './issuer';
import { benchAppends, benchVerify, type AppendBenchResult, type VerifyBenchResult } from './ledger-bench';
import { formatProfile, summariseProfile, type ProfileSummary } from './profile';
import { benchSeal, databaseUrl, sealTable } from './seal-bench';
import { startBulkLoadPostgres } from './ledger-fill';

const ROOT = path.resolve(__dirname, '..', '..');
const AUDIENCE = 'urn:safeguard-gateway';
const APP_PASSWORD = 'bench-app-password-not-secret';

/** verifyPerSecond: 1,000,000 entries in under 60 s, whatever --verify-entries is. */
const GOALS = { decisionsPerSecond: 2000, p99Ms: 50, ratioToBare: 0.4, ledgerToRaw: 0.6, verifyPerSecond: 1_000_000 / 60, readyMs: 2000 };

interface Options {
  duration: number;
  connections: number;
  appendEntries: number;
  verifyEntries: number;
  workers2: boolean;
  profile: boolean;
  logLevel: string;
  skipVerify: boolean;
  skipLedger: boolean;
  /** Ask the three s.47 requests without the fact that makes them lawful: denials with routes. */
  denials: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string, fallback: string): string => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
  const int = (name: string, fallback: number): number => {
    const n = Number(value(name, String(fallback)));
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number`);
    return n;
  };
  return {
    duration: Math.min(int('duration', 10), 120),
    connections: Math.min(int('connections', 32), 1000),
    appendEntries: int('append-entries', 20_000),
    // Half a million by default so that the whole bench stays within about six minutes; the rate is what is judged.
    verifyEntries: int('verify-entries', 500_000),
    workers2: argv.includes('--workers2'),
    profile: argv.includes('--profile'),
    logLevel: value('log-level', 'info'),
    skipVerify: argv.includes('--skip-verify'),
    skipLedger: argv.includes('--skip-ledger'),
    denials: argv.includes('--denials'),
  };
}

function getStatus(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

async function waitFor(port: number, urlPath: string, child: ChildProcess, what: string, ms = 60_000, pollMs = 200): Promise<void> {
  const until = Date.now() + ms;
  while ((await getStatus(port, urlPath)) !== 200) {
    if (child.exitCode !== null) throw new Error(`${what} exited (code ${child.exitCode}) before it was ready`);
    if (Date.now() > until) throw new Error(`${what} was not ready within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function stopChild(child: ChildProcess, ms = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds (user + system) used so far by a process and all its descendants, ended ones included (Linux /proc; 100 ticks/s). */
function treeCpuSeconds(rootPid: number | undefined): number {
  if (rootPid === undefined) return 0;
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // utime + stime, and cutime + cstime: the CPU of children that ended and were waited for (a PostgreSQL backend
      // that exits during a measurement keeps counting).
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      stats.set(Number(name), { ppid: Number(fields[1]), ticks });
    } catch {
      // The process ended meanwhile.
    }
  }
  let ticks = 0;
  const todo = [rootPid];
  const seen = new Set<number>();
  while (todo.length) {
    const pid = todo.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === pid) todo.push(child);
  }
  return ticks / 100;
}

/** The postmaster's pid, from postmaster.pid in the cluster directory. */
function postmasterPid(clusterDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Cores used during a measured load by the server under test, PostgreSQL, and this process (the load generator). */
interface CpuUse {
  readonly server: number;
  readonly postgres: number;
  readonly loadGenerator: number;
}

async function measured<T>(
  serverPid: number | undefined,
  pgPid: number | undefined,
  seconds: number,
  run: () => Promise<T>,
): Promise<{ result: T; cpu: CpuUse }> {
  const s0 = treeCpuSeconds(serverPid);
  const p0 = treeCpuSeconds(pgPid);
  const c0 = process.cpuUsage();
  const result = await run();
  const c1 = process.cpuUsage(c0);
  const cores = (x: number) => Math.round((100 * x) / seconds) / 100;
  return {
    result,
    cpu: {
      server: cores(treeCpuSeconds(serverPid) - s0),
      postgres: cores(treeCpuSeconds(pgPid) - p0),
      loadGenerator: cores((c1.user + c1.system) / 1e6),
    },
  };
}

interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly total: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly connections: number;
  readonly durationSeconds: number;
}

async function load(port: number, requests: autocannon.Request[], connections: number, duration: number): Promise<LoadResult> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}`, connections, duration, pipelining: 1, timeout: 10, requests });
  return {
    requestsPerSecond: result.requests.total / duration,
    p50Ms: result.latency.p50,
    p90Ms: result.latency.p90,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    connections,
    durationSeconds: duration,
  };
}

/**
 * One request per agency, each a valid decision request that its own agency may ask (answer 200, audited): Operation
 * Encompass police → school (a partial permit: the full report is withheld, with its lawful routes) and three s.47
 * permits. Since the catalogue of issue 8, s.47 sharing needs `significant_harm_suspected`; before it was added here
 * the three were denials with routes for every field (answers of 4-7 KB instead of 2.5-3 KB); `--denials` asks them
 * that way still, to measure the dearest path (a deny that works out the lawful routes of every field).
 */
async function decisionRequests(issuers: BenchIssuers, denials: boolean): Promise<autocannon.Request[]> {
  const s47Facts = denials ? {} : { significant_harm_suspected: true };
  const ask = async (agencyId: string, body: object, practitioner?: { sub: string; role: string }): Promise<autocannon.Request> => ({
    method: 'POST',
    path: '/v1/decisions',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await issuers.token(agencyId, practitioner ? { sub: practitioner.sub, role: practitioner.role } : {})}`,
    },
    body: JSON.stringify(body),
  });
  return [
    await ask('bench-police', {
      from: { agencyType: 'police' },
      to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
      purpose: 'operation_encompass',
      subjectRole: 'child',
      subjectRef: 'NP-2026-000001',
      fields: ['name', 'incident_date', 'child_involvement', 'incident_full_report'],
      // 0 hours: the notice is always before the next school day starts, so it is the partial permit it is meant to
      // be at any time of day (10 hours made it late during school hours: a refer that opened a referral).
      facts: { child_present_at_incident: true, hours_since_incident: 0 },
    }),
    await ask(
      'bench-csc',
      {
        from: { agencyType: 'childrens_social_care' },
        to: { agencyType: 'police', role: 'police_officer' },
        purpose: 'child_protection_enquiry',
        subjectRole: 'child',
        subjectRef: 'CSC-2026-000002',
        fields: ['name', 'date_of_birth', 'child_protection_plan_status'],
        facts: s47Facts,
      },
      { sub: 'sw-1', role: 'social_worker' },
    ),
    await ask(
      'bench-school',
      {
        from: { agencyType: 'school' },
        to: { agencyType: 'childrens_social_care', role: 'social_worker' },
        purpose: 'child_protection_enquiry',
        subjectRole: 'child',
        fields: ['name', 'attendance', 'wellbeing_concerns'],
        facts: s47Facts,
      },
      { sub: 'dsl-1', role: 'designated_safeguarding_lead' },
    ),
    await ask('bench-health-visiting', {
      from: { agencyType: 'health_visiting' },
      to: { agencyType: 'childrens_social_care', role: 'social_worker' },
      purpose: 'child_protection_enquiry',
      subjectRole: 'child',
      subjectRef: 'HV-000003',
      fields: ['name', 'physical_health'],
      facts: s47Facts,
    }),
  ];
}

/** Ledger entries and committed transactions in a database so far (pg_stat_database). */
async function ledgerStats(ownerUrl: string): Promise<{ entries: number; commits: number }> {
  const client = new Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ entries: string; commits: string }>(
      `SELECT (SELECT count(*) FROM audit_ledger)::text AS entries,
              (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::text AS commits`,
    );
    return { entries: Number(rows[0]?.entries ?? 0), commits: Number(rows[0]?.commits ?? 0) };
  } finally {
    await client.end();
  }
}

interface GatewayRun {
  readonly workers: number;
  readonly logLevel: string;
  readonly main: string;
  /** From spawning `node dist/src/main.js` (external database, no tsc) to the first 200 from /readyz. */
  readonly readyMs: number;
  readonly warmup: LoadResult;
  readonly load: LoadResult;
  readonly cpu: CpuUse;
  /** Ledger entries per committed transaction during the measured load (group commit batch size). */
  readonly meanFlush: number;
  readonly logBytes: number;
  readonly profile?: ProfileSummary;
}

interface Context {
  readonly o: Options;
  readonly dir: string;
  readonly clusterDir: string;
  readonly ownerUrl: string;
  readonly appUrl: string;
  readonly agenciesFile: string;
  readonly requests: autocannon.Request[];
  /** The gateway entry point (default dist/src/main.js; --gateway-main= runs another build, e.g. to try a change). */
  readonly gatewayMain: string;
}

async function runGateway(ctx: Context, workers: number, logLevel: string, profile: boolean): Promise<GatewayRun> {
  const { o } = ctx;
  const port = await freePort();
  const logFile = path.join(ctx.dir, `gateway-w${workers}-${logLevel}-${Date.now()}.log`);
  const logFd = openSync(logFile, 'a');
  const profileDir = path.join(ctx.dir, `profile-${Date.now()}`);
  const child = spawn(process.execPath, [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ctx.gatewayMain], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: ctx.ownerUrl,
      APP_DATABASE_URL: ctx.appUrl,
      AGENCIES_FILE: ctx.agenciesFile,
      DEV_IDP: 'off',
      ALLOW_INSECURE_ISSUERS: 'on',
      GATEWAY_AUDIENCE: AUDIENCE,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: path.join(ctx.dir, 'gateway-data'),
      POLICY_DIR: path.join(ROOT, 'policies'),
      AUDIT_PSEUDONYM_KEY: 'bench-pseudonym-key-bench-pseudonym-key-0123',
      RATE_LIMIT_PER_AGENCY_PER_MINUTE: '10000000',
      RATE_LIMIT_PER_IP_PER_MINUTE: '10000000',
      LOG_LEVEL: logLevel,
      WORKERS: String(workers),
    },
    stdio: ['ignore', logFd, logFd],
  });
  try {
    const spawnedAt = Date.now();
    await waitFor(port, '/readyz', child, 'the gateway', 60_000, 20).catch((e: unknown) => {
      // Say why: the gateway's own last lines (it logs JSON to the file).
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`${e instanceof Error ? e.message : String(e)}; its log ends:\n${tail}`);
    });
    const readyMs = Date.now() - spawnedAt;
    const warmup = await load(port, ctx.requests, o.connections, 3);
    const before = await ledgerStats(ctx.ownerUrl);
    const { result, cpu } = await measured(child.pid, postmasterPid(ctx.clusterDir), o.duration, () =>
      load(port, ctx.requests, o.connections, o.duration),
    );
    await new Promise((r) => setTimeout(r, 1200)); // statistics are flushed at most once a second
    const after = await ledgerStats(ctx.ownerUrl);
    const flush = { entries: after.entries - before.entries, transactions: after.commits - before.commits };
    await stopChild(child);
    let summary: ProfileSummary | undefined;
    if (profile) {
      const files = (() => {
        try {
          return readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
        } catch {
          return [];
        }
      })();
      if (files[0]) {
        summary = summariseProfile(path.join(profileDir, files[0]));
        // Kept beside the results (git-ignored) for a closer look, e.g. in Chrome DevTools' Performance panel.
        const kept = path.join(ROOT, 'bench', 'results', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
        mkdirSync(path.dirname(kept), { recursive: true });
        copyFileSync(path.join(profileDir, files[0]), kept);
        process.stderr.write(`bench: CPU profile kept at ${path.relative(ROOT, kept)}\n`);
      }
    }
    return {
      workers,
      logLevel,
      main: path.relative(ROOT, ctx.gatewayMain),
      readyMs,
      warmup,
      load: result,
      cpu,
      meanFlush: flush.entries / Math.max(1, flush.transactions),
      logBytes: statSync(logFile).size,
      ...(summary ? { profile: summary } : {}),
    };
  } finally {
    await stopChild(child);
    closeSync(logFd);
  }
}

async function runBare(ctx: Context): Promise<{ load: LoadResult; cpu: CpuUse }> {
  const { o } = ctx;
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(__dirname, 'bare.js'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => d.toString('utf8').includes('listening') && resolve());
      child.once('exit', (code) => reject(new Error(`the bare Express server exited (code ${code})`)));
    });
    await load(port, ctx.requests, o.connections, 3);
    const { result, cpu } = await measured(child.pid, undefined, o.duration, () => load(port, ctx.requests, o.connections, o.duration));
    return { load: result, cpu };
  } finally {
    await stopChild(child);
  }
}

const msPerRequest = (c: CpuUse, rps: number): string => (rps > 0 ? ((1000 * c.server) / rps).toFixed(3) : '-');
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (r: number): string => `${(100 * r).toFixed(0)}%`;

function table(rows: Array<[string, string, string, string]>): string {
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  // `--seal`: only the ledger-sealing measurements (./seal-bench.ts), on their own database.
  if (argv.includes('--seal')) return runSealBench(argv);
  const o = parseOptions(argv);
  // `--ledger-only`: only the ledger appends (step 5), `--ledger-rounds` times, each ratio from its own round.
  if (argv.includes('--ledger-only')) return runLedgerBench(argv, o);
  // `--verify-only`: only the verification measurement (with --verify-entries), no gateway, no load.
  if (argv.includes('--verify-only')) return runVerifyOnly(o);
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

    log(
      `bench: gateway (${path.relative(ROOT, gatewayMain)}), 1 worker, ${o.connections} connections, ${o.duration} s, LOG_LEVEL=${o.logLevel}`,
    );
    const gw1 = await runGateway(ctx, 1, o.logLevel, false);
    log(
      `  ${fmt(gw1.load.requestsPerSecond)} decisions/s, p50 ${gw1.load.p50Ms} ms, p99 ${gw1.load.p99Ms} ms, non-2xx ${gw1.load.non2xx}, errors ${gw1.load.errors}; ${cpuLine(gw1.cpu, gw1.load.requestsPerSecond)}; ${fmt(gw1.meanFlush, 1)} entries per ledger commit`,
    );

    log('bench: bare Express route, same load');
    const bare = await runBare(ctx);
    log(
      `  ${fmt(bare.load.requestsPerSecond)} req/s, p50 ${bare.load.p50Ms} ms, p99 ${bare.load.p99Ms} ms; ${cpuLine(bare.cpu, bare.load.requestsPerSecond)}`,
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
        `audited decisions/s (1 worker, ${o.connections} conn, ${o.duration} s)`,
        fmt(gw1.load.requestsPerSecond),
        `≥ ${fmt(GOALS.decisionsPerSecond)}`,
        yes(gw1.load.requestsPerSecond >= GOALS.decisionsPerSecond),
      ],
      [
        '  latency p50 / p90 / p99 (ms)',
        `${gw1.load.p50Ms} / ${gw1.load.p90Ms} / ${gw1.load.p99Ms}`,
        `p99 < ${GOALS.p99Ms}`,
        yes(gw1.load.p99Ms < GOALS.p99Ms),
      ],
      ['  non-2xx / errors', `${gw1.load.non2xx} / ${gw1.load.errors}`, '0 / 0', yes(gw1.load.non2xx === 0 && gw1.load.errors === 0)],
      ['  CPU cores: gateway / PostgreSQL / load generator', cores(gw1.cpu), '', ''],
      ['  gateway CPU per decision (ms)', msPerRequest(gw1.cpu, gw1.load.requestsPerSecond), '', ''],
      ['  ledger entries per commit (group commit)', fmt(gw1.meanFlush, 1), '', ''],
      ['gateway start to ready (node dist/src/main.js, ms)', fmt(gw1.readyMs), `< ${fmt(GOALS.readyMs)}`, yes(gw1.readyMs < GOALS.readyMs)],
      ['bare Express req/s (same load)', fmt(bare.load.requestsPerSecond), '', ''],
      ['  CPU cores: server / - / load generator', cores(bare.cpu), '', ''],
      ['  server CPU per request (ms)', msPerRequest(bare.cpu, bare.load.requestsPerSecond), '', ''],
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
      `${JSON.stringify({ started: started.toISOString(), machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgBefore: loadBefore, node: process.version }, options: o, gatewayMain: path.relative(ROOT, gatewayMain), goals: GOALS, benchSeconds: Math.round((Date.now() - started.getTime()) / 1000), gateway: gw1, workers2: gw2, bare, ratioToBare: ratio, appends, verify, profile: profiled?.profile, decisionEntriesRecorded: recorded, answered2xx: answered, table: output }, null, 2)}\n`,
    );
    process.stdout.write(`Results: ${path.relative(ROOT, file)}\n`);
    if (recorded < answered) process.exitCode = 1;
  } finally {
    await issuers?.close();
    await pg?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runLedgerBench(argv: readonly string[], o: Options): Promise<void> {
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

async function runVerifyOnly(o: Options): Promise<void> {
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

async function runSealBench(argv: readonly string[]): Promise<void> {
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

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
