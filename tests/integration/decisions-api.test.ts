/**
 * The audited disclosure decision, end to end over HTTP: real tokens, real policies, real PostgreSQL.
 * Each test names the invariant (DEVELOPERS.md) it proves.
 */
import request from 'supertest';
import { contentHash } from '../../src/audit/entry';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  subjectRef: 'NP-2026-001234',
  fields: ['name', 'incident_date', 'child_involvement', 'incident_full_report'],
  // hours_since_incident 0: the next school day cannot have started since, so the notification is in time whenever the test runs.
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};

describe('POST /v1/decisions', () => {
  let gw: TestGateway;
  let police: string;
  beforeAll(async () => {
    gw = await startTestGateway();
    police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('answers Operation Encompass with a partial permit, names rule and lawful basis, and has committed the audit entry first (invariants 1, 3, 4)', async () => {
    const res = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(encompass);
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('permit_partial');
    expect(res.body.permittedFields).toEqual(expect.arrayContaining(['name', 'incident_date', 'child_involvement']));
    expect(res.body.permittedFields).not.toContain('incident_full_report');
    expect(res.body.withheldFields.map((w: { field: string }) => w.field)).toContain('incident_full_report');
    expect(res.body.rules.length).toBeGreaterThan(0);
    expect(res.body.lawfulBasis[0]).toEqual(expect.objectContaining({ statute: expect.any(String), ukGdprArticle6: expect.any(String) }));
    expect(res.headers['cache-control']).toBe('no-store');

    // The entry is in the database (read through a different connection, as the owner): committed, not pending.
    const rows = await gw.db.asOwner<{
      entry_id: string;
      kind: string;
      outcome: string;
      agency_id: string;
      purpose: string;
      payload: Record<string, unknown>;
      seq: string;
      entry_hash: string;
    }>('SELECT * FROM audit_ledger WHERE entry_id = $1', [res.body.auditEntryId]);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toEqual(
      expect.objectContaining({ kind: 'decision', outcome: 'permit_partial', agency_id: 'test-police', purpose: 'operation_encompass' }),
    );
    expect(Number(row.seq)).toBe(res.body.receipt.seq);
    expect(row.entry_hash).toBe(res.body.receipt.entryHash);
    expect(row.payload.fieldsRequested).toEqual(encompass.fields);
    expect(row.payload.permittedFields).toEqual(res.body.permittedFields);
    // The subject reference is stored only as a keyed pseudonym, and the answer only as a hash.
    expect(JSON.stringify(row.payload)).not.toContain('NP-2026-001234');
    expect(row.payload.subjectRef).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    const { auditEntryId: _id, receipt: _receipt, ...answer } = res.body;
    expect(row.payload.answerHash).toBe(contentHash(answer));
  });

  it('sends nothing of the decision when the ledger cannot record it: 503 (invariant 1)', async () => {
    await gw.db.asOwner('REVOKE INSERT ON audit_ledger FROM safeguard_app');
    try {
      const before = (await gw.ledgerRows()).length;
      const res = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(encompass);
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe('audit_unavailable');
      for (const leaked of ['decision', 'permittedFields', 'withheldFields', 'rules', 'lawfulBasis', 'auditEntryId'])
        expect(res.body).not.toHaveProperty(leaked);
      expect(res.text).not.toContain('incident_date');
      expect((await gw.ledgerRows()).length).toBe(before);
    } finally {
      await gw.db.asOwner('GRANT INSERT ON audit_ledger TO safeguard_app');
    }
    const again = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(encompass);
    expect(again.status).toBe(200);
  });

  it('refuses an unknown purpose with a 400 that names the word and the allowed values (invariants 2, 5)', async () => {
    const res = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .send({ ...encompass, purpose: 'gossip' });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('unknown_word');
    expect(res.body.detail).toContain('gossip');
    expect(res.body.errors[0]).toEqual(
      expect.objectContaining({ pointer: '/purpose', word: 'gossip', allowed: expect.arrayContaining(['operation_encompass', 'marac']) }),
    );
  });

  it.each([
    ['an unknown fact', { facts: { child_was_sad: true } }, '/facts/child_was_sad', 'child_was_sad'],
    ['an unknown field', { fields: ['name', 'shoe_size'] }, '/fields/1', 'shoe_size'],
    ['an unknown recipient role', { to: { agencyType: 'school', role: 'head_teacher' } }, '/to/role', 'head_teacher'],
    ['a fact value outside its words', { facts: { dash_risk_level: 'very_high' } }, '/facts/dash_risk_level', 'very_high'],
  ])('refuses %s by name', async (_what, change, pointer, word) => {
    const res = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .send({ ...encompass, ...change });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('unknown_word');
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer, word })]));
  });

  it('refuses a missing purpose and records the refusal (invariants 2, 5)', async () => {
    const { purpose: _p, ...noPurpose } = encompass;
    const res = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(noPurpose);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer: '/purpose' })]));
    const rows = await gw.db.asOwner<{ kind: string; outcome: string; request_id: string }>(
      'SELECT kind, outcome, request_id FROM audit_ledger WHERE request_id = $1',
      [res.headers['x-request-id']],
    );
    expect(rows).toEqual([expect.objectContaining({ kind: 'request_refused', outcome: 'invalid_request' })]);
  });

  it('lets an agency ask only about sharing from itself: spoofing `from` is 403 and audited', async () => {
    const res = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .send({ ...encompass, from: { agencyType: 'school' } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('policy_refused');
    const rows = await gw.db.asOwner<{ kind: string; agency_id: string }>(
      'SELECT kind, agency_id FROM audit_ledger WHERE request_id = $1',
      [res.headers['x-request-id']],
    );
    expect(rows).toEqual([{ kind: 'request_refused', agency_id: 'test-police' }]);
  });

  it('answers a request without a token with 401, WWW-Authenticate and problem+json, and records it', async () => {
    const res = await request(gw.app).post('/v1/decisions').send(encompass);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    // An unidentified caller: counted for its source and window (one ledger entry per window), not one row per request.
    const rows = await gw.db.asOwner('SELECT kind FROM audit_ledger WHERE request_id = $1', [res.headers['x-request-id']]);
    expect(rows).toEqual([]);
    expect(await gw.countedRefusals('unauthenticated')).toBeGreaterThanOrEqual(1);
  });

  it('refuses a token without the decisions scope', async () => {
    const noScope = await gw.issuers.token({ agency: 'test-police', scope: 'records:read' });
    const res = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${noScope}`).send(encompass);
    expect(res.status).toBe(403);
  });

  it('answers an oversized body with 413 and broken JSON with 400, both problem+json without a stack trace (invariant 5)', async () => {
    const big = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ ...encompass, padding: 'x'.repeat(64 * 1024) }));
    expect(big.status).toBe(413);
    expect(big.headers['content-type']).toMatch(/^application\/problem\+json/);
    const broken = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .set('Content-Type', 'application/json')
      .send('{"from": ');
    expect(broken.status).toBe(400);
    expect(broken.body.code).toBe('bad_request');
    expect(broken.text).not.toMatch(/at .*\.(js|ts):\d+/);
  });

  it('denies what no rule permits, saying why in plain words (invariants 2, 4)', async () => {
    const res = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .send({
        ...encompass,
        to: { agencyType: 'housing', role: 'housing_officer' },
        purpose: 'housing_allocation',
        fields: ['incident_full_report'],
      });
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('deny');
    expect(res.body.permittedFields).toEqual([]);
    expect(res.body.reasons.join(' ')).toMatch(/\w+ \w+ \w+/);
    expect(res.body.withheldFields[0]).toEqual(expect.objectContaining({ field: 'incident_full_report', reason: expect.any(String) }));
    expect(res.body.auditEntryId).toEqual(expect.any(String));
  });
});

describe('auditor API', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
    const police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
    for (let i = 0; i < 3; i++)
      await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(encompass).expect(200);
  });
  afterAll(async () => {
    await gw.close();
  });

  it('is for the auditor role only', async () => {
    const police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions audit:read' });
    const res = await request(gw.app).get('/v1/audit').set('Authorization', `Bearer ${police}`);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('lists decisions with filters and cursor paging, and records the read itself', async () => {
    const auditor = await gw.issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'auditor-1', scope: 'audit:read' });
    const first = await request(gw.app).get('/v1/audit?kind=decision&limit=2').set('Authorization', `Bearer ${auditor}`);
    expect(first.status).toBe(200);
    expect(first.body.entries).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await request(gw.app)
      .get(`/v1/audit?kind=decision&limit=2&cursor=${first.body.nextCursor}`)
      .set('Authorization', `Bearer ${auditor}`);
    expect(second.status).toBe(200);
    expect(second.body.entries).toHaveLength(1);
    const ids = [...first.body.entries, ...second.body.entries].map((e: { entryId: string }) => e.entryId);
    expect(new Set(ids).size).toBe(3);
    const reads = await gw.db.asOwner<{ kind: string; practitioner: string }>(
      "SELECT kind, practitioner FROM audit_ledger WHERE kind = 'audit_read'",
    );
    expect(reads).toHaveLength(2);
    expect(reads[0]?.practitioner).toBe('auditor-1');

    const bad = await request(gw.app).get('/v1/audit?purpose=snooping').set('Authorization', `Bearer ${auditor}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].word).toBe('snooping');
  });

  it('verifies the chain', async () => {
    const auditor = await gw.issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'auditor-1', scope: 'audit:read' });
    const res = await request(gw.app).get('/v1/audit/verify').set('Authorization', `Bearer ${auditor}`);
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(res.body.entriesChecked).toBeGreaterThanOrEqual(3);
  });
});

describe('operability', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw.close();
  });

  it('reports liveness and readiness (database and issuers)', async () => {
    await request(gw.app).get('/healthz').expect(200);
    const ready = await request(gw.app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.database.ok).toBe(true);
    expect(ready.body.issuers.length).toBeGreaterThan(0);
  });

  it('describes every route in the OpenAPI 3.1 document, and every described route exists', async () => {
    const doc = (await request(gw.app).get('/openapi.json').expect(200)).body as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const described = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(described.sort()).toEqual(
      [
        'POST /v1/decisions',
        'GET /v1/audit',
        'GET /v1/audit/entries/{entryId}',
        'GET /v1/audit/verify',
        'GET /v1/audit/entries/{entryId}/proof',
        'GET /v1/audit/checkpoints',
        'POST /v1/audit/checkpoints',
        'GET /v1/audit/checkpoint',
        'GET /v1/audit/checkpoint/key',
        'GET /v1/audit/checkpoint/keys',
        'GET /v1/audit/subjects/{ref}/disclosures',
        'POST /v1/webhooks',
        'GET /v1/webhooks',
        'DELETE /v1/webhooks/{webhookId}',
        'POST /v1/persons',
        'POST /v1/households',
        'POST /v1/households/{householdId}/members',
        'POST /v1/records',
        'GET /v1/records/{recordId}',
        'PUT /v1/records/{recordId}',
        'GET /v1/subjects/{personId}/records',
        'GET /v1/subjects/{personId}/chronology',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /openapi.json',
        'GET /.well-known/jwks.json',
        'GET /v1/referrals',
        'GET /v1/referrals/{id}',
        'POST /v1/referrals/{id}/decision',
        'POST /v1/information-requests',
        'GET /v1/information-requests',
        'GET /v1/information-requests/{id}',
        'POST /v1/information-requests/{id}/responses',
        'GET /v1/information-requests/{id}/picture',
        'GET /v1/triage/daily',
      ].sort(),
    );
    const auditor = await gw.issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'a', scope: 'audit:read' });
    for (const route of described) {
      const [method, path] = route.split(' ') as [string, string];
      const verb = method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
      const agent = request(gw.app);
      const concrete = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await agent[verb](concrete).set('Authorization', `Bearer ${auditor}`);
      expect(res.body.detail ?? '').not.toMatch(/There is nothing at/);
    }
  });

  it('answers an unknown route with a 404 problem', async () => {
    const res = await request(gw.app).get('/nowhere');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
