/**
 * Faults: the database going away, and the gateway process being killed mid-load. Invariant 1: no answer leaves
 * unless its audit entry is committed; if the ledger cannot be written the answer is 503 and nothing is disclosed.
 *
 *   database down     its OWN embedded PostgreSQL (so stopping it harms no other test), the gateway assembled on
 *                     it as src/gateway.ts assembles it (assemble()); the server is stopped → 503 problem+json, fail
 *                     closed; started again → the same app (same pool) serves again.
 *   killed mid-load   the real gateway (src/main.ts compiled with swc) as a child process on a test database;
 *                     concurrent decisions; `kill -9`; then every 200 a client received must be in the ledger with
 *                     the entry hash of its receipt, and the chain must verify.
 */
import { freePort } from '../../src/db/free-port';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import pino from 'pino';
import request from 'supertest';
import type { Express } from 'express';
import { assemble, type Assembled } from '../../src/gateway';
import { verifyLedger } from '../../src/audit/verify';
import { createDatabase, prepareDatabase } from '../../src/db/bootstrap';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { compileForNode, ROOT } from '../support/compile-for-node';
import { startPostgresController, type PostgresController } from '../support/processes';
import { startTestIssuers, type TestIssuers } from '../support/token-factory';
import { testGatewayConfig } from '../support/gateway-harness';

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  subjectRef: 'NP-2026-007777',
  fields: ['name', 'incident_date', 'child_involvement', 'incident_full_report'],
  // hours_since_incident 0: the next school day cannot have started since, so the notification is in time whenever the test runs.
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};
const cscAsk = {
  from: { agencyType: 'childrens_social_care' },
  to: { agencyType: 'police', role: 'police_officer' },
  purpose: 'child_protection_enquiry',
  subjectRole: 'child',
  fields: ['name', 'child_protection_plan_status'],
  facts: {},
};
const DECISION_MEMBERS = [
  'decision',
  'permittedFields',
  'withheldFields',
  'rules',
  'lawfulBasis',
  'reasons',
  'mustRecord',
  'auditEntryId',
  'receipt',
];

describe('the database goes down and comes back', () => {
  let dir: string;
  let buildDir: string;
  let keysDir: string | undefined;
  let server: PostgresController;
  let gateway: Assembled;
  let pool: Pool;
  let issuers: TestIssuers;
  let ownerUrl: string;
  let app: Express;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sg-faults-pg-'));
    buildDir = mkdtempSync(path.join(os.tmpdir(), 'sg-faults-build-'));
    server = startPostgresController(compileForNode('src/db/embedded.ts', buildDir), dir, await freePort());
    ownerUrl = await createDatabase(await server.start(), 'sg_faults');
    const { appUrl } = await prepareDatabase({ ownerUrl, appPassword: 'faults-app-password' });
    issuers = await startTestIssuers(['police', 'csc']);
    // The gateway as src/gateway.ts assembles it (its pools log a dropped connection, never crash), with short
    // timeouts so that an outage is answered quickly.
    const config = testGatewayConfig({
      GATEWAY_AUDIENCE: issuers.audience,
      RATE_LIMIT_PER_AGENCY_PER_MINUTE: '100000',
      RATE_LIMIT_PER_IP_PER_MINUTE: '100000',
    });
    keysDir = config.dataDir;
    gateway = await assemble(
      config,
      { appDatabaseUrl: appUrl, agencies: issuers.agencies, embeddedDatabase: false, webClients: {} },
      pino({ level: 'silent' }),
      { background: false, pages: false, poolSize: 5, overrides: { ledgerTimeoutMs: 3000, connectionTimeoutMs: 3000 } },
    );
    ({ app, pool } = gateway);
  }, 120_000);
  afterAll(async () => {
    await gateway?.close().catch(() => undefined);
    await issuers?.close();
    await server?.exit();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
    if (keysDir) rmSync(keysDir, { recursive: true, force: true });
  }, 60_000);

  // The three steps share one outage: up → down → up again.
  let police: string;
  let auditor: string;
  let before: request.Response;
  const post = (body: object) => request(app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(body);

  it('while it is down: decisions answer 503 problem+json, fail closed, with nothing of the decision', async () => {
    police = await issuers.token({ agency: 'test-police', scope: 'decisions' });
    auditor = await issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'aud-1', scope: 'audit:read' });
    // Up: a normal decision, with idle pooled connections left behind.
    before = await post(encompass);
    expect(before.status).toBe(200);

    await server.stop();

    for (let i = 0; i < 3; i++) {
      const res = await post(encompass);
      expect({ status: res.status, code: res.body?.code }).toEqual({ status: 503, code: 'audit_unavailable' });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['retry-after']).toBe('5');
      for (const member of DECISION_MEMBERS) expect(res.body).not.toHaveProperty(member);
      for (const field of ['incident_date', 'child_involvement', 'operation-encompass', 'NP-2026-007777'])
        expect(res.text).not.toContain(field);
      expect(res.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres|at [^\s]+ \(?[^)]*\.(js|ts):\d+/i);
    }
    // A refusal that cannot be recorded is not sent as a refusal either: 503.
    const unrecordable = await post({ ...encompass, purpose: 'gossip' });
    expect({ status: unrecordable.status, code: unrecordable.body?.code }).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(unrecordable.body).not.toHaveProperty('errors');
    // Alive, but not ready.
    await request(app).get('/healthz').expect(200);
    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.database.ok).toBe(false);
  }, 60_000);

  it('while it is down: an auditor read answers 503 (unavailable, try again), not 500, with no entries', async () => {
    const read = await request(app).get('/v1/audit?limit=5').set('Authorization', `Bearer ${auditor}`);
    expect(read.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(read.body).not.toHaveProperty('entries');
    expect(read.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres/i);
    expect({ status: read.status, code: read.body?.code }).toEqual({ status: 503, code: 'not_ready' });
    expect(read.headers['retry-after']).toBe('5');
  });

  it('once it is back: the same app and pool serve again, and nothing of the outage is in the ledger', async () => {
    await server.start();
    let after = await post(encompass);
    for (let i = 0; i < 20 && after.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = await post(encompass);
    }
    expect(after.status).toBe(200);
    expect(after.body.decision).toBe('permit_partial');
    expect(after.body.receipt.seq).toBe(before.body.receipt.seq + 1);
    const cscToken = await issuers.token({ agency: 'test-csc', scope: 'decisions' });
    await request(app).post('/v1/decisions').set('Authorization', `Bearer ${cscToken}`).send(cscAsk).expect(200);
    expect((await request(app).get('/readyz')).status).toBe(200);

    const report = await verifyLedger(pool);
    expect(report.ok).toBe(true);
    expect(report.lastSeq).toBe(before.body.receipt.seq + 2);
    const audited = await request(app).get('/v1/audit?kind=decision').set('Authorization', `Bearer ${auditor}`);
    expect(audited.status).toBe(200);
    expect(audited.body.entries).toHaveLength(3);
  }, 60_000);
});

interface Answer {
  status: number;
  body: Record<string, unknown> | null;
}

function postJson(agent: http.Agent, port: number, token: string, body: object): Promise<Answer> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
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
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> | null;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = null;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('the gateway process is killed during load', () => {
  let db: TestDatabase;
  let issuers: TestIssuers;
  let buildDir: string;
  let mainJs: string;
  let pool: Pool;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    issuers = await startTestIssuers(['police', 'csc', 'school']);
    buildDir = mkdtempSync(path.join(os.tmpdir(), 'sg-faults-build-'));
    mainJs = compileForNode('src/main.ts', buildDir, { withAssets: true });
    writeFileSync(path.join(buildDir, 'agencies.json'), JSON.stringify({ agencies: issuers.agencies }));
    pool = new Pool({ connectionString: db.appUrl, max: 2 });
  }, 120_000);
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await pool?.end();
    await issuers?.close();
    await db?.drop();
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  async function startGateway(): Promise<{ child: ChildProcess; port: number; output: () => string }> {
    const port = await freePort();
    let output = '';
    const child = spawn(process.execPath, [mainJs], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        NODE_PATH: path.join(ROOT, 'node_modules'),
        DATABASE_URL: db.ownerUrl,
        APP_DATABASE_URL: db.appUrl,
        AGENCIES_FILE: path.join(buildDir, 'agencies.json'),
        DEV_IDP: 'off',
        ALLOW_INSECURE_ISSUERS: 'on',
        GATEWAY_AUDIENCE: issuers.audience,
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: path.join(buildDir, 'data'),
        POLICY_DIR: path.join(ROOT, 'policies'),
        AUDIT_PSEUDONYM_KEY: 'faults-test-pseudonym-key-0123456789abcdef',
        RATE_LIMIT_PER_AGENCY_PER_MINUTE: '1000000',
        RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    child.stdout?.on('data', (d: Buffer) => void (output += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => void (output += d.toString('utf8')));
    const until = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the gateway exited during start-up (code ${child.exitCode}):\n${output.slice(-3000)}`);
      const up = await new Promise<boolean>((resolve) => {
        http
          .get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
          })
          .on('error', () => resolve(false));
      });
      if (up) break;
      if (Date.now() > until) throw new Error(`the gateway did not start within 60 s:\n${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { child, port, output: () => output };
  }

  it('every 200 a client received is in the ledger with its receipt hash, and the chain verifies', async () => {
    const gateway = await startGateway();
    const tokens = {
      police: await issuers.token({ agency: 'test-police', scope: 'decisions' }),
      csc: await issuers.token({ agency: 'test-csc', scope: 'decisions' }),
    };
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const received: Answer[] = [];
    let failures = 0;
    let killedAt = -1;
    const KILL_AFTER = 300;
    const CONCURRENCY = 32;

    const worker = async (w: number): Promise<void> => {
      for (let i = 0; ; i++) {
        const police = (w + i) % 2 === 0;
        try {
          const answer = await postJson(agent, gateway.port, police ? tokens.police : tokens.csc, police ? encompass : cscAsk);
          received.push(answer);
          if (killedAt < 0 && received.filter((a) => a.status === 200).length >= KILL_AFTER) {
            killedAt = received.length;
            gateway.child.kill('SIGKILL');
          }
        } catch {
          failures += 1;
          if (killedAt >= 0 || gateway.child.signalCode !== null) return;
          throw new Error(`a request failed before the kill:\n${gateway.output().slice(-2000)}`);
        }
        if (gateway.child.signalCode !== null && killedAt >= 0) return;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
    agent.destroy();
    await new Promise<void>((resolve) =>
      gateway.child.exitCode !== null || gateway.child.signalCode !== null ? resolve() : gateway.child.once('exit', () => resolve()),
    );
    expect(gateway.child.signalCode).toBe('SIGKILL');
    // The kill happened with requests in flight.
    expect(failures).toBeGreaterThan(0);

    const ok = received.filter((a) => a.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(KILL_AFTER);
    // Nothing but decisions was answered (no 5xx slipped out under load before the kill).
    expect(received.filter((a) => a.status !== 200)).toEqual([]);

    const receipts = ok.map((a) => ({
      id: a.body?.auditEntryId as string,
      seq: (a.body?.receipt as { seq: number }).seq,
      hash: (a.body?.receipt as { entryHash: string }).entryHash,
    }));
    const rows = await db.asOwner<{ entry_id: string; seq: string; entry_hash: string; kind: string }>(
      'SELECT entry_id::text AS entry_id, seq::text AS seq, entry_hash, kind FROM audit_ledger WHERE entry_id = ANY($1::uuid[])',
      [receipts.map((r) => r.id)],
    );
    const stored = new Map(rows.map((r) => [r.entry_id, r]));
    const missing = receipts.filter((r) => {
      const row = stored.get(r.id);
      return !row || Number(row.seq) !== r.seq || row.entry_hash !== r.hash || row.kind !== 'decision';
    });
    expect(missing).toEqual([]);
    expect(new Set(receipts.map((r) => r.seq)).size).toBe(receipts.length);

    const report = await verifyLedger(pool);
    expect(report).toEqual(expect.objectContaining({ ok: true, problems: [] }));
    expect(report.lastSeq).toBeGreaterThanOrEqual(Math.max(...receipts.map((r) => r.seq)));

    // A new gateway on the same ledger goes on from the last committed entry (the killed one held no lock).
    const again = await startGateway();
    try {
      const agent2 = new http.Agent({ keepAlive: false });
      const answer = await postJson(agent2, again.port, tokens.police, encompass);
      expect(answer.status).toBe(200);
      expect((answer.body?.receipt as { seq: number }).seq).toBe(report.lastSeq + 1);
      agent2.destroy();
    } finally {
      again.child.kill('SIGTERM');
      await new Promise((r) => again.child.once('exit', r));
    }
    const final = await verifyLedger(pool);
    expect(final.ok).toBe(true);
    expect(final.lastSeq).toBe(report.lastSeq + 1);
    // The data directory of the child only held its keys; no PostgreSQL of its own was started.
    expect(existsSync(path.join(buildDir, 'data', 'pg'))).toBe(false);
  }, 180_000);
});
