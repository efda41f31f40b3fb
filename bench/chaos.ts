/**
 * `npm run chaos`: decisions under load while a gateway worker and the embedded PostgreSQL are killed (SIGKILL) at
 * random a few times — and nobody restarts anything by hand: the primary replaces a dead worker, the gateway's
 * supervisor restarts its database. Bounded (at most 120 s, 10 faults, 32 connections), loopback only, in a
 * throw-away data directory. It prints: answers by status, ledger entries, answers without an entry (must be 0),
 * time to recover from each fault, and the result of `audit:verify` run at the end. Exit 1 if any 200 lacks its
 * entry, any answer was a 5xx other than 503, a fault was not recovered from, or the ledger does not verify.
 *
 *   npm run chaos -- [--duration=40] [--faults=4] [--connections=8] [--workers=2] [--seed=N]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from '../src/db/free-port';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
const HOST = '127.0.0.1';

interface Options {
  readonly durationS: number;
  readonly faults: number;
  readonly connections: number;
  readonly workers: number;
  readonly seed: number;
}

function parseOptions(argv: readonly string[]): Options {
  const get = (name: string, fallback: number, min: number, max: number): number => {
    const arg = argv.find((a) => a.startsWith(`--${name}=`));
    if (!arg) return fallback;
    const value = Number(arg.slice(name.length + 3));
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
    return value;
  };
  return {
    durationS: get('duration', 40, 10, 120),
    faults: get('faults', 4, 1, 10),
    connections: get('connections', 8, 1, 32),
    workers: get('workers', 2, 1, 4),
    seed: get('seed', Date.now() % 1_000_000, 0, 1_000_000_000),
  };
}

/** A small deterministic PRNG (mulberry32), so a run can be repeated with --seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Answer {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly status: number;
  readonly entryId?: string;
  readonly entryHash?: string;
}

function decide(agent: http.Agent, port: number, token: string, n: number): Promise<Answer> {
  const body = JSON.stringify({
    from: { agencyType: 'police' },
    to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
    purpose: 'operation_encompass',
    subjectRole: 'child',
    subjectRef: `CHAOS-${n}`,
    fields: ['name', 'incident_date', 'child_involvement', 'incident_full_report'],
    // 0 hours: in time whenever it runs (a partial permit; 10 hours was late during school hours).
    facts: { child_present_at_incident: true, hours_since_incident: 0 },
  });
  const startedAt = Date.now();
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: HOST,
        port,
        path: '/v1/decisions',
        method: 'POST',
        agent,
        timeout: 15_000,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let parsed: { auditEntryId?: unknown; receipt?: { entryHash?: unknown } } = {};
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof parsed;
          } catch {
            parsed = {};
          }
          resolve({
            startedAt,
            endedAt: Date.now(),
            status: res.statusCode ?? 0,
            ...(typeof parsed.auditEntryId === 'string' ? { entryId: parsed.auditEntryId } : {}),
            ...(typeof parsed.receipt?.entryHash === 'string' ? { entryHash: parsed.receipt.entryHash } : {}),
          });
        });
        res.on('error', () => resolve({ startedAt, endedAt: Date.now(), status: -1 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ startedAt, endedAt: Date.now(), status: -1 }));
    req.end(body);
  });
}

function status(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: HOST, port, path: urlPath, agent: false, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (Number(fields[1]) === pid && /node/.test(comm)) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface Fault {
  readonly at: number;
  readonly target: 'worker' | 'postgres';
  pid?: number;
  killedAt?: number;
  recoveredMs?: number;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const rand = random(opts.seed);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sg-chaos-'));
  const [port, idpPort, pgPort] = [await freePort(), await freePort(), await freePort()];
  let gateway: ChildProcess | undefined;
  let output = '';
  try {
    process.stdout.write(
      `chaos: ${opts.durationS} s of decisions, ${opts.connections} connections, ${opts.workers} worker(s), ${opts.faults} faults (seed ${opts.seed}), gateway on ${HOST}:${port}, data in ${dataDir}\n`,
    );
    const env = {
      PATH: process.env.PATH ?? '',
      HOST,
      PORT: String(port),
      DEV_IDP_PORT: String(idpPort),
      PG_PORT: String(pgPort),
      DATA_DIR: dataDir,
      WORKERS: String(opts.workers),
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_AGENCY_PER_MINUTE: '10000000',
      RATE_LIMIT_PER_IP_PER_MINUTE: '10000000',
    };
    gateway = spawn(process.execPath, [path.join(DIST, 'src', 'main.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    gateway.stdout?.on('data', (d: Buffer) => void (output += d.toString('utf8')));
    gateway.stderr?.on('data', (d: Buffer) => void (output += d.toString('utf8')));
    const startBy = Date.now() + 120_000;
    while ((await status(port, '/readyz')) !== 200) {
      if (gateway.exitCode !== null) throw new Error(`the gateway exited during start-up:\n${output.slice(-3000)}`);
      if (Date.now() > startBy) throw new Error(`the gateway was not ready within 120 s:\n${output.slice(-3000)}`);
      await sleep(250);
    }
    const primary = gateway.pid as number;
    const { stdout: tokenOut } = await promisify(execFile)(
      process.execPath,
      [
        path.join(DIST, 'src', 'cli', 'demo-token.js'),
        '--agency',
        'northshire-police',
        '--data-dir',
        dataDir,
        '--idp',
        `http://${HOST}:${idpPort}`,
      ],
      { cwd: ROOT, env },
    );
    const token = tokenOut.trim();

    // Faults at random moments between 10 % and 80 % of the run, at least 4 s apart (time to recover and be measured).
    const durationMs = opts.durationS * 1000;
    const slot = (0.7 * durationMs) / opts.faults;
    const faults: Fault[] = Array.from({ length: opts.faults }, (_, i) => ({
      at: Math.round(0.1 * durationMs + i * slot + rand() * Math.max(0, slot - 4000)),
      target: opts.workers > 1 && rand() < 0.5 ? 'worker' : 'postgres',
    }));

    const answers: Answer[] = [];
    const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
    const started = Date.now();
    const end = started + durationMs;
    let n = 0;
    const load = Array.from({ length: opts.connections }, async () => {
      while (Date.now() < end) {
        const a = await decide(agent, port, token, n++);
        answers.push(a);
        if (a.status !== 200) await sleep(50); // do not spin while it is down
      }
    });
    const chaos = (async () => {
      for (const fault of faults) {
        await sleep(Math.max(0, started + fault.at - Date.now()));
        const pid =
          fault.target === 'postgres'
            ? postmasterPid(dataDir)
            : childrenOf(primary)[Math.floor(rand() * Math.max(1, childrenOf(primary).length))];
        if (pid === undefined) continue;
        fault.pid = pid;
        fault.killedAt = Date.now();
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          fault.killedAt = undefined;
        }
        process.stdout.write(`  t+${((fault.killedAt ?? Date.now()) - started) / 1000}s  kill -9 ${fault.target} (pid ${pid})\n`);
      }
    })();
    await Promise.all([...load, chaos]);
    agent.destroy();

    // Time to recover: from the kill to the end of the first 200 among requests sent after it.
    for (const f of faults) {
      if (f.killedAt === undefined) continue;
      const killedAt = f.killedAt;
      const firstOk = answers.filter((a) => a.status === 200 && a.startedAt >= killedAt).sort((x, y) => x.endedAt - y.endedAt)[0];
      if (firstOk) f.recoveredMs = firstOk.endedAt - killedAt;
    }

    // The ledger, as the database superuser of the embedded server.
    const password = readFileSync(path.join(dataDir, 'pg-superuser-password'), 'utf8').trim();
    const owner = new Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@${HOST}:${pgPort}/safeguard` });
    owner.on('error', () => undefined);
    let stored = new Map<string, string>();
    let total = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        await owner.connect();
        break;
      } catch (e) {
        if (attempt > 40) throw e;
        await sleep(250);
      }
    }
    try {
      const ok = answers.filter((a) => a.status === 200);
      const rows = await owner.query<{ entry_id: string; entry_hash: string }>(
        'SELECT entry_id::text, entry_hash FROM audit_ledger WHERE entry_id = ANY($1::uuid[])',
        [ok.map((a) => a.entryId ?? '00000000-0000-0000-0000-000000000000')],
      );
      stored = new Map(rows.rows.map((r) => [r.entry_id, r.entry_hash]));
      total = Number((await owner.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_ledger')).rows[0]?.n ?? 0);
    } finally {
      await owner.end();
    }
    const ok = answers.filter((a) => a.status === 200);
    const withoutEntry = ok.filter((a) => !a.entryId || stored.get(a.entryId) !== a.entryHash).length;

    const verify = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [path.join(DIST, 'src', 'cli', 'audit-verify.js')], { cwd: ROOT, env }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 2) : 0, out: `${stdout}${stderr}` });
      });
    });

    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    const other5xx = answers.filter((a) => a.status >= 500 && a.status !== 503).length;
    const recovered = faults.filter((f) => f.killedAt !== undefined);
    const times = recovered
      .map((f) => f.recoveredMs)
      .filter((t): t is number => t !== undefined)
      .sort((a, b) => a - b);
    const unrecovered = recovered.filter((f) => f.recoveredMs === undefined).length;
    const lines = [
      '',
      `Chaos run: ${opts.durationS} s, ${opts.connections} connections, ${opts.workers} worker(s), seed ${opts.seed} (loopback only)`,
      `  answers:                  ${answers.length}  (${[...byStatus.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([s, c]) => `${s === -1 ? 'connection dropped' : s}: ${c}`)
        .join(', ')})`,
      `  ledger entries:           ${total}`,
      `  200s:                     ${ok.length}`,
      `  200s without an entry:    ${withoutEntry}`,
      `  5xx other than 503:       ${other5xx}`,
      `  faults (kill -9):         ${recovered.map((f) => `${f.target}@${((f.killedAt as number) - started) / 1000}s → ${f.recoveredMs === undefined ? 'NOT recovered' : `${(f.recoveredMs / 1000).toFixed(1)} s`}`).join('; ')}`,
      `  time to recover:          ${times.length ? `median ${(times[Math.floor(times.length / 2)]! / 1000).toFixed(1)} s, max ${(times[times.length - 1]! / 1000).toFixed(1)} s` : 'n/a'}${unrecovered ? `, ${unrecovered} not recovered` : ''}`,
      `  audit:verify:             exit ${verify.code}  ${
        verify.out
          .split('\n')
          .find((l) => /ledger|chain/i.test(l))
          ?.trim() ?? ''
      }`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    const results = {
      options: opts,
      answers: answers.length,
      byStatus: Object.fromEntries(byStatus),
      ledgerEntries: total,
      ok: ok.length,
      withoutEntry,
      other5xx,
      faults: recovered.map((f) => ({ target: f.target, atMs: (f.killedAt as number) - started, recoveredMs: f.recoveredMs ?? null })),
      auditVerifyExit: verify.code,
    };
    mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(
      path.join(ROOT, 'bench', 'results', `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
      `${JSON.stringify(results, null, 2)}\n`,
    );
    const failed = withoutEntry > 0 || other5xx > 0 || unrecovered > 0 || verify.code !== 0;
    if (failed) process.stdout.write(`FAILED. Last gateway output:\n${output.slice(-3000)}\n${verify.out}\n`);
    return failed ? 1 : 0;
  } finally {
    if (gateway && gateway.exitCode === null && gateway.signalCode === null) {
      const exited = new Promise((r) => gateway?.once('exit', r));
      gateway.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill('SIGKILL');
    }
    const leftover = postmasterPid(dataDir);
    if (leftover !== undefined) {
      try {
        process.kill(leftover, 'SIGINT');
        await sleep(1000);
      } catch {
        // already gone
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`chaos: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
