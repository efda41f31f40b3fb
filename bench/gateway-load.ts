/**
 * The load runs: autocannon against the real gateway (`node dist/src/main.js` with its own log file, optionally
 * under --cpu-prof) and against the bare Express route (./bare.ts), with latency, CPU per process and, for the
 * gateway, ledger entries per commit and its start-to-ready time.
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { freePort } from '../src/db/free-port';
import { AUDIENCE, ROOT, gatewayNodeOptions, type Options } from './options';
import { measured, postmasterPid, stopChild, waitFor, type CpuUse } from './processes';
import { summariseProfile, type ProfileSummary } from './profile';
import { alternate, sliceCount, type LoadResult, type Slice } from './slices';

export type { LoadResult } from './slices';

/** One load run; with `latencies`, every response's time (ms) is added to it as well (for a slice, ./slices.ts). */
async function load(
  port: number,
  requests: autocannon.Request[],
  connections: number,
  duration: number,
  latencies?: number[],
): Promise<LoadResult> {
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const run = autocannon({ url: `http://127.0.0.1:${port}`, connections, duration, pipelining: 1, timeout: 10, requests }, (e, r) =>
      e ? reject(e instanceof Error ? e : new Error(String(e))) : resolve(r),
    );
    if (latencies) run.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
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

export interface GatewayRun {
  readonly workers: number;
  readonly logLevel: string;
  readonly main: string;
  /** The Node options it ran with: `npm start`'s (`gatewayNodeOptions`). */
  readonly nodeOptions: readonly string[];
  /** From spawning `node dist/src/main.js` (external database, no tsc) to the first 200 from /readyz. */
  readonly readyMs: number;
  readonly warmup: LoadResult;
  readonly load: LoadResult;
  readonly cpu: CpuUse;
  /** Ledger entries per committed transaction during the measured load (group commit batch size). */
  readonly meanFlush: number;
  readonly logBytes: number;
  /** The serving process's peak resident memory (VmHWM; WORKERS=2: the primary's), in MiB. */
  readonly peakRssMb?: number;
  readonly profile?: ProfileSummary;
  /** Measured in alternating slices with the bare Express route (./slices.ts): how many, how long each. */
  readonly slices?: { readonly count: number; readonly seconds: number };
  /** The bare Express route's figures from the slices between the gateway's. */
  readonly bare?: { readonly load: LoadResult; readonly cpu: CpuUse };
}

export interface Context {
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

/** VmHWM of a process (Linux /proc), in MiB. */
function peakRssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}

/**
 * The gateway under load, `o.duration` seconds measured. With `alongside` (the bare route, started and warmed), the
 * two are measured in alternating slices (./slices.ts) and the bare route's figures come back with the gateway's.
 */
export async function runGateway(
  ctx: Context,
  workers: number,
  logLevel: string,
  profile: boolean,
  alongside?: BareServer,
): Promise<GatewayRun> {
  const { o } = ctx;
  const port = await freePort();
  const logFile = path.join(ctx.dir, `gateway-w${workers}-${logLevel}-${Date.now()}.log`);
  const logFd = openSync(logFile, 'a');
  const profileDir = path.join(ctx.dir, `profile-${Date.now()}`);
  const nodeOptions = gatewayNodeOptions();
  const args = [
    ...nodeOptions,
    // More options for a closer look, e.g. BENCH_GATEWAY_NODE_OPTIONS=--perf-basic-prof-only-functions for Linux perf.
    ...(process.env.BENCH_GATEWAY_NODE_OPTIONS ?? '').split(' ').filter(Boolean),
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ctx.gatewayMain,
  ];
  const child = spawn(process.execPath, args, {
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
    const gatewaySlice =
      (seconds: number): Slice =>
      (latencies) =>
        measured(child.pid, postmasterPid(ctx.clusterDir), seconds, () => load(port, ctx.requests, o.connections, seconds, latencies));
    const count = sliceCount(o.duration);
    const seconds = o.duration / count;
    const sliced = alongside ? await alternate(gatewaySlice(seconds), alongside.slice(seconds), count) : undefined;
    const { result, cpu } = sliced ? sliced.a : await gatewaySlice(o.duration)();
    await new Promise((r) => setTimeout(r, 1200)); // statistics are flushed at most once a second
    const after = await ledgerStats(ctx.ownerUrl);
    const flush = { entries: after.entries - before.entries, transactions: after.commits - before.commits };
    const peakRssMb = peakRssOf(child.pid);
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
      nodeOptions,
      readyMs,
      warmup,
      load: result,
      cpu,
      meanFlush: flush.entries / Math.max(1, flush.transactions),
      logBytes: statSync(logFile).size,
      ...(peakRssMb !== undefined ? { peakRssMb } : {}),
      ...(summary ? { profile: summary } : {}),
      ...(sliced ? { slices: { count, seconds }, bare: { load: sliced.b.result, cpu: sliced.b.cpu } } : {}),
    };
  } finally {
    await stopChild(child);
    closeSync(logFd);
  }
}

/** The bare Express route (./bare.ts), running and warmed: `slice(s)` measures it under the same load for s seconds. */
export interface BareServer {
  slice(seconds: number): Slice;
  stop(): Promise<void>;
}

export async function startBare(ctx: Context): Promise<BareServer> {
  const { o } = ctx;
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(__dirname, 'bare.js'), String(port), ...(o.barePresetPrototypes ? ['preset'] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => d.toString('utf8').includes('listening') && resolve());
      child.once('exit', (code) => reject(new Error(`the bare Express server exited (code ${code})`)));
    });
    await load(port, ctx.requests, o.connections, 3);
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return {
    slice: (seconds) => (latencies) =>
      measured(child.pid, undefined, seconds, () => load(port, ctx.requests, o.connections, seconds, latencies)),
    stop: () => stopChild(child),
  };
}
