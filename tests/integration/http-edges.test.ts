/**
 * What an integrator meets at the edges of the API: a wrong method on a known path (405 + Allow), a body that is
 * not JSON (415), unknown `kind`/`outcome` words in the audit query (400), search by request id and subject,
 * and metrics that `promtool check metrics` accepts (no gauge named `…_total`), with page and API decisions counted.
 */
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  subjectRef: 'NP-2026-EDGE-1',
  fields: ['name', 'incident_date'],
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};

describe('HTTP edges', () => {
  let gw: TestGateway;
  let police: string;
  let auditor: string;
  beforeAll(async () => {
    gw = await startTestGateway();
    police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions records:read records:write' });
    auditor = await gw.issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'auditor-1', scope: 'audit:read' });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('a wrong method on a known path is 405 with Allow, problem+json, and recorded as a refusal', async () => {
    const res = await request(gw.app).get('/v1/decisions').set('Authorization', `Bearer ${police}`);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.code).toBe('method_not_allowed');
    const put = await request(gw.app).delete('/v1/records/5f0c9b1e-2a51-4a3e-9a07-2b8f7a0e0c11').set('Authorization', `Bearer ${police}`);
    expect(put.status).toBe(405);
    expect(put.headers.allow?.split(', ').sort()).toEqual(['GET', 'HEAD', 'PUT']);
    const refused = await gw.db.asOwner<{ outcome: string }>(
      "SELECT outcome FROM audit_ledger WHERE kind = 'request_refused' AND request_id = $1",
      [res.headers['x-request-id']],
    );
    expect(refused).toEqual([{ outcome: 'method_not_allowed' }]);
    // Unknown paths stay 404; unauthenticated callers still get 401 first.
    expect((await request(gw.app).get('/v1/nothing-here').set('Authorization', `Bearer ${police}`)).status).toBe(404);
    expect((await request(gw.app).get('/v1/decisions')).status).toBe(401);
    expect((await request(gw.app).post('/healthz')).status).toBe(405);
  });

  it('a text/plain or form body is 415, not a misleading 400 about a missing field', async () => {
    const text = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify(encompass));
    expect(text.status).toBe(415);
    expect(text.body.code).toBe('unsupported_media_type');
    expect(text.body.detail).toContain('text/plain');
    const form = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .type('form')
      .send({ purpose: 'marac' });
    expect(form.status).toBe(415);
    // JSON still works, with or without charset=utf-8, and a POST without any body is still the usual 400.
    expect(
      (
        await request(gw.app)
          .post('/v1/decisions')
          .set('Authorization', `Bearer ${police}`)
          .set('Content-Type', 'application/json; charset=utf-8')
          .send(JSON.stringify(encompass))
      ).status,
    ).toBe(200);
    expect((await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`)).status).toBe(400);
  });

  it('the audit query refuses an unknown outcome or kind (400), and finds entries by request id and by case reference', async () => {
    for (const q of ['outcome=maybe', 'kind=gossip']) {
      const res = await request(gw.app).get(`/v1/audit?${q}`).set('Authorization', `Bearer ${auditor}`);
      expect(res.status).toBe(400);
    }
    const decided = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .set('X-Request-Id', 'edge-request-0001')
      .send(encompass);
    expect(decided.status).toBe(200);
    const byRequest = await request(gw.app)
      .get('/v1/audit?requestId=edge-request-0001')
      .set('Authorization', `Bearer ${auditor}`)
      .expect(200);
    expect(byRequest.body.entries.map((e: { entryId: string }) => e.entryId)).toEqual([decided.body.auditEntryId]);
    const bySubject = await request(gw.app)
      .get(`/v1/audit?subjectRef=${encompass.subjectRef}`)
      .set('Authorization', `Bearer ${auditor}`)
      .expect(200);
    expect(bySubject.body.entries.map((e: { entryId: string }) => e.entryId)).toContain(decided.body.auditEntryId);
    expect(bySubject.body.entries.every((e: { kind: string }) => e.kind === 'decision')).toBe(true);
    const other = await request(gw.app).get('/v1/audit?subjectRef=NP-SOMEONE-ELSE').set('Authorization', `Bearer ${auditor}`).expect(200);
    expect(other.body.entries).toEqual([]);
    // The read records the pseudonym searched for, never the case reference itself.
    const reads = await gw.db.asOwner<{ payload: unknown }>(
      "SELECT payload FROM audit_ledger WHERE kind = 'audit_read' ORDER BY seq DESC LIMIT 2",
    );
    expect(JSON.stringify(reads)).not.toContain('NP-SOMEONE-ELSE');
  });

  it('metrics: no gauge ends in _total, every metric has HELP and TYPE, and decisions are counted', async () => {
    const res = await request(gw.app).get('/metrics').expect(200);
    const text = res.text;
    const types = new Map<string, string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
    const helps = new Set([...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]!));
    for (const [name, type] of types) {
      expect({ name, type, help: helps.has(name) }).toEqual({ name, type, help: true });
      if (name.endsWith('_total')) expect({ name, type }).toEqual({ name, type: 'counter' });
    }
    expect(types.get('nodejs_active_handles_total')).toBeUndefined();
    expect(types.get('nodejs_active_resources')).toBe('gauge');
    expect(text).toMatch(/^safeguard_decisions_total\{outcome="permit"\} \d+$/m);
    // Counted between scrapes and handed over at each one: the next scrape shows this one, and three requests more.
    const count = (t: string): number => Number(/^safeguard_http_requests_total\{method="GET",status="200"\} (\d+)$/m.exec(t)?.[1] ?? 0);
    for (let i = 0; i < 3; i++) await request(gw.app).get('/healthz').expect(200);
    const next = await request(gw.app).get('/metrics').expect(200);
    expect(count(next.text)).toBe(count(text) + 4);
  });
});
