/**
 * The OpenAPI document against real answers. The harness checks every response of every HTTP test
 * (tests/support/openapi-responses.ts); this file proves the checker can fail, and walks one of each documented
 * success answer through the real gateway so every 2xx schema is exercised at least once.
 */
import express from 'express';
import request from 'supertest';
import { openApiDocument } from '../../src/http/openapi';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';
import { recordResponses, responseValidator } from '../support/openapi-responses';

describe('the OpenAPI document', () => {
  it('gives every operation a unique operationId and every success answer a body schema (or none for 204)', () => {
    const doc = openApiDocument() as {
      paths: Record<
        string,
        Record<string, { operationId?: string; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>
      >;
    };
    const ids: string[] = [];
    const missing: string[] = [];
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!op.operationId) missing.push(`${method} ${p}: no operationId`);
        else ids.push(op.operationId);
        for (const [status, response] of Object.entries(op.responses)) {
          if (!/^2/.test(status) || status === '204') continue;
          const schemas = Object.values(response.content ?? {}).map((c) => c.schema);
          if (schemas.length === 0 || schemas.some((s) => s === undefined)) missing.push(`${method} ${p} ${status}: no body schema`);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('the checker refuses a body that does not match, an undocumented status, and an error that is not problem+json', async () => {
    const v = responseValidator();
    expect(v.check({ method: 'GET', path: '/healthz', status: 200, contentType: 'application/json', body: '{"status":"ok"}' })).toEqual([]);
    expect(
      v.check({ method: 'GET', path: '/healthz', status: 200, contentType: 'application/json', body: '{"status":"fine"}' })[0],
    ).toMatch(/does not match/);
    expect(v.check({ method: 'GET', path: '/healthz', status: 202, contentType: 'application/json', body: '{}' })[0]).toMatch(
      /not documented/,
    );
    expect(v.check({ method: 'GET', path: '/v1/audit', status: 403, contentType: 'text/html', body: '<p>no</p>' })[0]).toMatch(
      /problem\+json/,
    );
    expect(v.check({ method: 'GET', path: '/v1/nowhere', status: 200, contentType: 'application/json', body: '{}' })[0]).toMatch(
      /not in the OpenAPI document/,
    );
    // And through the middleware the harness uses, on a real Express answer.
    const problems: string[] = [];
    const app = express();
    app.use(recordResponses(v, problems));
    app.get('/readyz', (_req, res) => res.json({ status: 'ready' }));
    await request(app).get('/readyz').expect(200);
    expect(problems.join('\n')).toMatch(
      /GET \/readyz → 200: body does not match the document: body must have required property 'database'/,
    );
  });
});

describe('real answers of the gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw.close(); // fails here if any answer below did not match the document
  });

  it('decisions, audit reads, entries, proofs, checkpoints, verification, health, readiness, keys, metrics, the document', async () => {
    const police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
    const auditor = await gw.issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'auditor-1', scope: 'audit:read' });
    const decided = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .send({
        from: { agencyType: 'police' },
        to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
        purpose: 'operation_encompass',
        subjectRole: 'child',
        fields: ['name', 'incident_full_report'],
        facts: { child_present_at_incident: true, hours_since_incident: 5 },
      })
      .expect(200);
    const as = (t: string) => ({ Authorization: `Bearer ${t}` });
    await request(gw.app).get('/v1/audit?limit=5').set(as(auditor)).expect(200);
    await request(gw.app).get(`/v1/audit/entries/${decided.body.auditEntryId}`).set(as(auditor)).expect(200);
    await request(gw.app).get(`/v1/audit/entries/${decided.body.auditEntryId}/proof`).set(as(police)).expect(200);
    await request(gw.app).post('/v1/audit/checkpoints').set(as(auditor)).expect(201);
    await request(gw.app).get(`/v1/audit/entries/${decided.body.auditEntryId}/proof`).set(as(auditor)).expect(200);
    await request(gw.app).get('/v1/audit/checkpoints').set(as(auditor)).expect(200);
    const verified = await request(gw.app).get('/v1/audit/verify').set(as(auditor)).expect(200);
    expect(verified.body.summary).toMatch(/^chain intact to entry \d+; sealed and signed to entry \d+/);
    await request(gw.app).get('/healthz').expect(200);
    await request(gw.app).get('/readyz');
    await request(gw.app).get('/.well-known/jwks.json').expect(200);
    await request(gw.app).get('/metrics').expect(200);
    await request(gw.app).get('/openapi.json').expect(200);
    // Refusals are problem+json too.
    await request(gw.app).get('/v1/audit').set(as(police)).expect(403);
    await request(gw.app).get('/v1/audit?kind=gossip').set(as(auditor)).expect(400);
  });
});
