/**
 * The embedded development database, driven in real `node` processes (as `npm start` runs it):
 *  - a second start beside a live owner reuses its server and leaves it running (e.g. audit:verify beside npm start);
 *  - a server orphaned by `kill -9` of its node parent is reported, stopped and replaced by a fresh start.
 */
import { freePort } from '../../src/db/free-port';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { compileForNode, ROOT } from '../support/compile-for-node';

async function canQuery(url: string): Promise<boolean> {
  const c = new Client({ connectionString: url });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

interface Started {
  readonly child: ReturnType<typeof spawn>;
  readonly adminUrl: string;
  readonly log: string[];
}

/** A node process that starts the embedded server, prints its URL, then waits for a line on stdin ("stop"). */
function startInChild(moduleJs: string, dataDir: string, port: number): Promise<Started> {
  const script = `
    const { startEmbeddedPostgres } = require(${JSON.stringify(moduleJs)});
    const log = [];
    startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${port}, log: (l) => log.push(l) }).then((db) => {
      process.stdout.write(JSON.stringify({ adminUrl: db.adminUrl, log }) + '\\n');
      process.stdin.once('data', () => db.stop().then(() => process.exit(0)));
    }, (e) => { process.stderr.write(String(e && e.message)); process.exit(3); });`;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: ROOT,
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        const { adminUrl, log } = JSON.parse(out) as { adminUrl: string; log: string[] };
        resolve({ child, adminUrl, log });
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
}

async function stopChild(s: Started): Promise<void> {
  s.child.stdin?.write('stop\n');
  await new Promise((r) => s.child.once('exit', r));
}

function postmasterPid(dataDir: string): number {
  return Number.parseInt(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
}

describe('embedded PostgreSQL', () => {
  let dir: string;
  let build: string;
  let moduleJs: string;
  beforeAll(() => {
    build = mkdtempSync(path.join(os.tmpdir(), 'sg-embedded-build-'));
    moduleJs = compileForNode('src/db/embedded.ts', build);
  });
  afterAll(() => rmSync(build, { recursive: true, force: true }));
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sg-embedded-'));
    chmodSync(dir, 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reuses a server that a live process owns, and leaves it running', async () => {
    const port = await freePort();
    const owner = await startInChild(moduleJs, dir, port);
    try {
      const second = await startInChild(moduleJs, dir, port);
      expect(second.log.join('\n')).toMatch(/Using the PostgreSQL server/);
      await stopChild(second);
      expect(await canQuery(owner.adminUrl)).toBe(true);
    } finally {
      await stopChild(owner);
    }
  });

  it('reports and stops a server left behind by a killed run, then starts afresh', async () => {
    const port = await freePort();
    const killed = await startInChild(moduleJs, dir, port);
    const orphan = postmasterPid(dir);
    killed.child.kill('SIGKILL');
    await new Promise((r) => killed.child.once('exit', r));
    await new Promise((r) => setTimeout(r, 200));
    expect(() => process.kill(orphan, 0)).not.toThrow(); // still running, parent gone

    const fresh = await startInChild(moduleJs, dir, port);
    try {
      expect(fresh.log.join('\n')).toMatch(new RegExp(`still running .*\\(pid ${orphan}\\); stopping it`));
      expect(() => process.kill(orphan, 0)).toThrow();
      expect(postmasterPid(dir)).not.toBe(orphan);
      expect(await canQuery(fresh.adminUrl)).toBe(true);
    } finally {
      await stopChild(fresh);
    }
  });
});
