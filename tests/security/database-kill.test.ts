/**
 * PostgreSQL killed outright (SIGKILL: what an OOM kill or a failover looks like) under load, against the REAL
 * gateway process (src/main.ts compiled with swc). Invariant 1 and availability:
 *
 *   external database (DATABASE_URL)  the postmaster is killed while decisions are in flight → the gateway process
 *                                     stays up, answers 503 problem+json with Retry-After (never 500), and answers
 *                                     200 again within seconds of the database returning; every 200 has its entry.
 *   embedded database (npm start)     the gateway's own PostgreSQL is killed → nobody restarts it by hand: the gateway
 *                                     does (logged), and serves again.
 *   SIGTERM                           stops in order: no "database connection lost" error is logged, exit code 0.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../src/db/free-port';
import { createDatabase, prepareDatabase } from '../../src/db/bootstrap';
import { compileForNode, ROOT } from '../support/compile-for-node';
import {
  errorLogLines,
  killPostmaster,
  startGatewayProcess,
  startPostgresController,
  type GatewayProcess,
  type PostgresController,
} from '../support/processes';
import { startTestIssuers, type TestIssuers } from '../support/token-factory';

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  fields: ['name', 'incident_date', 'child_involvement'],
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};

interface Answer {
  status: number;
  retryAfter?: string;
  contentType?: string;
  body: Record<string, unknown> | null;
}

function decide(agent: http.Agent, port: number, token: string): Promise<Answer> {
  const data = JSON.stringify(encompass);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/decisions',
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let body: Record<string, unknown> | null;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            body = null;
          }
          resolve({
            status: res.statusCode ?? 0,
            ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}),
            ...(res.headers['content-type'] ? { contentType: res.headers['content-type'] } : {}),
            body,
          });
        });
        res.on('error', () => resolve({ status: -1, body: null }));
      },
    );
    req.on('error', () => resolve({ status: -1, body: null }));
    req.end(data);
  });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let issuers: TestIssuers;
let buildDir: string;
let mainJs: string;
let token: string;
const dirs: string[] = [];
const gateways: GatewayProcess[] = [];

function gatewayEnv(extra: Record<string, string>): Record<string, string> {
  return {
    AGENCIES_FILE: path.join(buildDir, 'agencies.json'),
    DEV_IDP: 'off',
    ALLOW_INSECURE_ISSUERS: 'on',
    GATEWAY_AUDIENCE: issuers.audience,
    POLICY_DIR: path.join(ROOT, 'policies'),
    AUDIT_PSEUDONYM_KEY: 'kill-test-pseudonym-key-0123456789abcdef',
    CHECKPOINT_INTERVAL_MS: '0',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

beforeAll(async () => {
  issuers = await startTestIssuers(['police', 'school']);
  buildDir = mkdtempSync(path.join(os.tmpdir(), 'sg-kill-build-'));
  mainJs = compileForNode('src/main.ts', buildDir, { withAssets: true });
  writeFileSync(path.join(buildDir, 'agencies.json'), JSON.stringify({ agencies: issuers.agencies }));
  token = await issuers.token({ agency: 'test-police', scope: 'decisions' });
}, 120_000);
afterAll(async () => {
  for (const g of gateways) if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill('SIGKILL');
  await issuers?.close();
  for (const d of [buildDir, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
}, 60_000);

describe('an external PostgreSQL is killed with SIGKILL under load', () => {
  let pg: PostgresController;
  let ownerUrl: string;

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-kill-pg-'));
    dirs.push(dir);
    pg = startPostgresController(compileForNode('src/db/embedded.ts', path.join(buildDir, 'controller')), dir, await freePort());
    ownerUrl = await createDatabase(await pg.start(), 'sg_kill');
  }, 120_000);
  afterAll(async () => {
    await pg?.exit();
  }, 60_000);

  it('stays up, answers 503 with Retry-After meanwhile, and 200 again within seconds of the database returning', async () => {
    const { appUrl } = await prepareDatabase({ ownerUrl, appPassword: 'kill-test-app-password' });
    const port = await freePort();
    const gateway = await startGatewayProcess(
      mainJs,
      gatewayEnv({ DATABASE_URL: ownerUrl, APP_DATABASE_URL: appUrl, DATA_DIR: path.join(buildDir, 'data-external') }),
      port,
    );
    gateways.push(gateway);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    expect((await decide(agent, port, token)).status).toBe(200);

    // Load: 16 callers deciding continuously; the postmaster is killed while their requests are in flight.
    const answers: Answer[] = [];
    let load = true;
    const callers = Array.from({ length: 16 }, async () => {
      while (load) answers.push(await decide(agent, port, token));
    });
    await until('answers under load', 20_000, async () => (answers.filter((a) => a.status === 200).length >= 50 ? true : undefined));
    await pg.kill();
    await new Promise((r) => setTimeout(r, 1500));
    load = false;
    await Promise.all(callers);

    expect({ exitCode: gateway.child.exitCode, signal: gateway.child.signalCode }).toEqual({ exitCode: null, signal: null });
    expect(gateway.output()).not.toMatch(/Unhandled 'error' event|uncaught/i);
    // Only decisions or "unavailable, try again": never a 500, never a dropped connection.
    expect([...new Set(answers.map((a) => a.status))].sort()).toEqual([200, 503]);
    const down = await decide(agent, port, token);
    expect(down.status).toBe(503);
    expect(down.retryAfter).toMatch(/^\d+$/);
    expect(down.contentType).toMatch(/^application\/problem\+json/);
    expect(down.body).not.toHaveProperty('decision');

    await pg.start();
    const back = Date.now();
    await until('a 200 after the database returned', 15_000, async () =>
      (await decide(agent, port, token)).status === 200 ? true : undefined,
    );
    const recoveredMs = Date.now() - back;
    expect(recoveredMs).toBeLessThan(15_000);

    // Every 200 a caller received is in the ledger.
    const ids = answers.filter((a) => a.status === 200).map((a) => String(a.body?.auditEntryId));
    const owner = new Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      const found = await owner.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_ledger WHERE entry_id = ANY($1::uuid[])', [
        ids,
      ]);
      expect(Number(found.rows[0]?.n)).toBe(ids.length);
    } finally {
      await owner.end();
    }

    // SIGTERM: an orderly stop, no database error logged on the way out.
    const stoppingAt = gateway.output().length;
    agent.destroy();
    expect(await gateway.stop()).toBe(0);
    expect(errorLogLines(gateway.output().slice(stoppingAt))).toEqual([]);
  }, 120_000);
});

describe('the embedded PostgreSQL of npm start is killed with SIGKILL', () => {
  it('the gateway restarts its own database (logged) and serves again; SIGTERM then stops it cleanly', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sg-kill-embedded-'));
    dirs.push(dataDir);
    const port = await freePort();
    const gateway = await startGatewayProcess(mainJs, gatewayEnv({ DATA_DIR: dataDir, PG_PORT: String(await freePort()) }), port);
    gateways.push(gateway);
    const agent = new http.Agent({ keepAlive: true });
    expect((await decide(agent, port, token)).status).toBe(200);

    const killed = await killPostmaster(path.join(dataDir, 'pg'));
    const down = await until('a 503 after the kill', 10_000, async () => {
      const a = await decide(agent, port, token);
      return a.status === 200 ? undefined : a;
    });
    expect(down.status).toBe(503);
    expect(down.retryAfter).toMatch(/^\d+$/);

    const back = await until('a 200 again, with nobody restarting PostgreSQL', 45_000, async () => {
      const a = await decide(agent, port, token);
      return a.status === 200 ? a : undefined;
    });
    expect(back.body?.decision).toBe('permit');
    expect({ exitCode: gateway.child.exitCode, signal: gateway.child.signalCode }).toEqual({ exitCode: null, signal: null });
    expect(gateway.output()).toContain(`"pid":${killed}`);
    expect(gateway.output()).toMatch(/The embedded PostgreSQL stopped unexpectedly \(signal SIGKILL\); restarting it/);
    expect(gateway.output()).toMatch(/The embedded PostgreSQL is running again/);

    const stoppingAt = gateway.output().length;
    agent.destroy();
    expect(await gateway.stop()).toBe(0);
    expect(errorLogLines(gateway.output().slice(stoppingAt))).toEqual([]);
  }, 150_000);
});
