/**
 * The HTTP routes for signed checkpoints and receipts, mounted as src/http/app.ts mounts them, on a real PostgreSQL
 * with real tokens from test issuers: an entry's receipt to the agency that made it (recorded in the ledger), sealing
 * on demand by auditors only, receipts that verify offline with the published JWKS, checkpoint listing, and a
 * rolled-back database refused with 409.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express, { type ErrorRequestHandler } from 'express';
import { Pool } from 'pg';
import pino from 'pino';
import request from 'supertest';
import type { AppendedEntry } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { DirectoryCheckpointSink, type CheckpointRecord } from '../../src/audit/checkpoints';
import { verifyReceipt } from '../../src/audit/receipts';
import { pseudonymiser } from '../../src/audit/pseudonym';
import { requireAuth } from '../../src/auth/middleware';
import { createTokenVerifier } from '../../src/auth/token-verifier';
import { problemFor, sendProblem } from '../../src/http/problem';
import { auditRouter } from '../../src/http/routes/audit';
import { ledgerProofsRouter } from '../../src/http/routes/ledger-proofs';
import { loadGatewayKeys, type GatewayKeys } from '../../src/keys/gateway-keys';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestIssuers, type TestIssuers } from '../support/token-factory';

const tmp = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), prefix));

let keys: GatewayKeys;

beforeAll(async () => {
  keys = await loadGatewayKeys(tmp('sg-keys-'), {});
});

describe('HTTP: receipts and checkpoints', () => {
  // The routes mounted as src/http/app.ts will mount them (before auditRouter), with real tokens from test issuers.
  let hdb: TestDatabase;
  let hpool: Pool;
  let hledger: PgAuditLedger;
  let issuers: TestIssuers;
  let app: express.Express;
  let exportTo: DirectoryCheckpointSink;
  let police: string;
  let school: string;
  let auditor: string;
  let policeEntry: AppendedEntry;

  beforeAll(async () => {
    hdb = await createTestDatabase();
    hpool = new Pool({ connectionString: hdb.appUrl, max: 4 });
    hledger = new PgAuditLedger(hpool);
    issuers = await startTestIssuers(['police', 'school', 'csc']);
    exportTo = new DirectoryCheckpointSink(tmp('sg-http-export-'));
    const verifier = createTokenVerifier({ agencies: issuers.agencies, audience: issuers.audience, allowInsecureIssuers: true });
    const logger = pino({ level: 'silent' });
    app = express();
    app.use((_req, res, next) => {
      res.locals.requestId = randomUUID();
      next();
    });
    const v1 = express.Router();
    v1.use(requireAuth(verifier));
    v1.use(express.json());
    v1.use(ledgerProofsRouter({ ledger: hledger, pool: hpool, keys, sinks: [exportTo], logger }));
    v1.use(
      auditRouter({
        ledger: hledger,
        pool: hpool,
        keys,
        pseudonymise: pseudonymiser('checkpoints-test-key-checkpoints-test-key'),
        sinks: [exportTo],
      }),
    );
    app.use('/v1', v1);
    const problems: ErrorRequestHandler = (e: unknown, _req, res, _next) => {
      sendProblem(res, problemFor(e, { error: () => undefined }));
    };
    app.use(problems);
    police = await issuers.token({ agency: 'test-police', sub: 'officer-1', role: 'police_officer', scope: 'decisions' });
    school = await issuers.token({ agency: 'test-school', sub: 'dsl-1', role: 'designated_safeguarding_lead', scope: 'decisions' });
    auditor = await issuers.token({ agency: 'test-csc', sub: 'auditor-1', role: 'auditor', scope: 'audit:read' });
    policeEntry = await hledger.append({
      kind: 'decision',
      outcome: 'permit',
      requestId: 'req-http-1',
      actor: {
        agencyId: 'test-police',
        agencyType: 'police',
        clientId: 'test-police-system',
        role: 'police_officer',
        practitioner: 'officer-1',
        issuer: issuers.issuerFor('test-police'),
      },
      purpose: 'operation_encompass',
      rules: ['rule-1'],
      payload: { permittedFields: ['name'] },
    });
  });
  afterAll(async () => {
    await hledger.close();
    await hpool.end();
    await issuers.close();
    await hdb.drop();
  });

  const proofOf = (id: string, token: string) => request(app).get(`/v1/audit/entries/${id}/proof`).set('Authorization', `Bearer ${token}`);

  it('gives the agency that made an entry its receipt: "not sealed yet" first, recorded in the ledger', async () => {
    const res = await proofOf(policeEntry.entryId, police);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sealed: false, seq: 1, entryHash: policeEntry.entryHash, latestCheckpointTreeSize: null });
    const [row] = await hdb.asOwner<{ kind: string; agency_id: string; payload: { receipt: boolean } }>(
      'SELECT * FROM audit_ledger WHERE entry_id = $1',
      [res.headers['x-audit-entry-id']],
    );
    expect(row).toMatchObject({ kind: 'audit_read', agency_id: 'test-police', payload: { receipt: true, sealed: false } });
  });

  it('lets only an auditor seal on demand, and records the seal', async () => {
    const refused = await request(app).post('/v1/audit/checkpoints').set('Authorization', `Bearer ${police}`);
    expect(refused.status).toBe(403);
    const res = await request(app).post('/v1/audit/checkpoints').set('Authorization', `Bearer ${auditor}`);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      created: true,
      checkpoint: { type: 'sg-ledger-checkpoint', treeSize: 2 },
      exportedTo: 1,
      exportFailures: 0,
    });
    expect(await exportTo.sizes()).toEqual([2]);
    const [row] = await hdb.asOwner<{ kind: string; outcome: string; payload: { treeSize: number } }>(
      'SELECT * FROM audit_ledger WHERE entry_id = $1',
      [res.headers['x-audit-entry-id']],
    );
    expect(row).toMatchObject({ kind: 'ledger_checkpoint', outcome: 'sealed', payload: { treeSize: 2 } });
    const again = await request(app).post('/v1/audit/checkpoints').set('Authorization', `Bearer ${auditor}`);
    expect(again.status).toBe(201); // the previous seal's own ledger entry is new
    expect(again.body.checkpoint.consistency).toMatchObject({ fromTreeSize: 2 });
  });

  it('serves a sealed receipt that verifies offline with the published JWKS only', async () => {
    const res = await proofOf(policeEntry.entryId, police);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sealed: true, seq: 1, treeSize: 3 });
    expect(await verifyReceipt(JSON.parse(res.text), keys.jwks())).toMatchObject({ ok: true, value: { seq: 1, treeSize: 3 } });
    const early = await request(app)
      .get(`/v1/audit/entries/${policeEntry.entryId}/proof?treeSize=2`)
      .set('Authorization', `Bearer ${auditor}`);
    expect(early.body).toMatchObject({ sealed: true, treeSize: 2 });
    expect((await verifyReceipt(early.body, keys.jwks())).ok).toBe(true);
  });

  it('answers another agency exactly as for an entry that does not exist', async () => {
    const other = await proofOf(policeEntry.entryId, school);
    const none = await proofOf('00000000-0000-4000-8000-000000000000', school);
    expect(other.status).toBe(404);
    expect(none.status).toBe(404);
    expect(other.body.detail).toBe(none.body.detail);
    expect((await proofOf('not-a-uuid', auditor)).status).toBe(404);
  });

  it('lists checkpoints to auditors only, newest first, keyset-paged', async () => {
    expect((await request(app).get('/v1/audit/checkpoints').set('Authorization', `Bearer ${police}`)).status).toBe(403);
    const first = await request(app).get('/v1/audit/checkpoints?limit=1').set('Authorization', `Bearer ${auditor}`);
    expect(first.status).toBe(200);
    expect(first.body.checkpoints.map((c: CheckpointRecord) => c.treeSize)).toEqual([3]);
    expect(first.body.nextBefore).toBe(3);
    const second = await request(app).get('/v1/audit/checkpoints?limit=5&before=3').set('Authorization', `Bearer ${auditor}`);
    expect(second.body).toEqual({ checkpoints: [expect.objectContaining({ treeSize: 2, consistency: null })] });
    for (const bad of ['limit=0', 'limit=201', 'before=-1', 'before=abc', 'colour=blue']) {
      expect((await request(app).get(`/v1/audit/checkpoints?${bad}`).set('Authorization', `Bearer ${auditor}`)).status).toBe(400);
    }
    expect((await request(app).get('/v1/audit/checkpoints')).status).toBe(401);
  });

  it('refuses to seal a rolled-back database with 409, signing nothing', async () => {
    await hdb.asOwner('ALTER TABLE ledger_checkpoints DISABLE TRIGGER USER');
    await hdb.asOwner('DELETE FROM ledger_checkpoints WHERE tree_size = 3');
    await hdb.asOwner('ALTER TABLE ledger_checkpoints ENABLE TRIGGER USER');
    const res = await request(app).post('/v1/audit/checkpoints').set('Authorization', `Bearer ${auditor}`);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'conflict', detail: expect.stringMatching(/rolled back/) });
    expect((await hdb.asOwner<{ n: string }>('SELECT count(*)::text AS n FROM ledger_checkpoints'))[0]?.n).toBe('1');
  });
});
