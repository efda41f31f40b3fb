/**
 * POST /v1/decisions is matched once at the top of the app and runs the API's handlers as a fixed list
 * (src/http/app.ts, src/http/pipeline.ts); every other spelling of the route (a trailing slash, capitals) walks the
 * routers to the same handlers. Both ways must answer alike, count against the same per-agency limit, and record
 * their refusals. Real tokens, real policies, real PostgreSQL.
 */
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const PER_AGENCY = 6;
const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  subjectRef: 'NP-2026-004321',
  fields: ['name', 'incident_date', 'child_involvement', 'incident_full_report'],
  // 0 hours: in time whenever the test runs.
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};
/** Headers that differ per request by nature. */
const PER_REQUEST = new Set(['x-request-id', 'date', 'content-length', 'ratelimit', 'connection', 'keep-alive']);

describe('POST /v1/decisions: the direct way and the long way', () => {
  let gw: TestGateway;
  let police: string;
  beforeAll(async () => {
    gw = await startTestGateway({ perAgencyPerMinute: PER_AGENCY });
    police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const entryOf = async (requestId: string) =>
    gw.db.asOwner<{ kind: string; outcome: string; agency_id: string }>(
      'SELECT kind, outcome, agency_id FROM audit_ledger WHERE request_id = $1',
      [requestId],
    );

  it('answers alike — same headers, same decision, each recorded — and both count against one per-agency limit', async () => {
    const direct = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(encompass);
    const long = await request(gw.app).post('/v1/decisions/').set('Authorization', `Bearer ${police}`).send(encompass);
    const capitals = await request(gw.app).post('/V1/Decisions').set('Authorization', `Bearer ${police}`).send(encompass);
    for (const res of [direct, long, capitals]) {
      expect(res.status).toBe(200);
      expect(await entryOf(res.headers['x-request-id'] as string)).toEqual([
        { kind: 'decision', outcome: 'permit_partial', agency_id: 'test-police' },
      ]);
    }
    const shape = (res: request.Response) => ({
      headers: Object.fromEntries(Object.entries(res.headers).filter(([k]) => !PER_REQUEST.has(k))),
      body: { ...res.body, auditEntryId: undefined, receipt: undefined },
    });
    expect(shape(long)).toEqual(shape(direct));
    expect(shape(capitals)).toEqual(shape(direct));
    expect(direct.headers['cache-control']).toBe('no-store');
    expect(direct.headers['ratelimit']).toMatch(new RegExp(`"${PER_AGENCY}-in-1min"; r=${PER_AGENCY - 1};`));
    expect(long.headers['ratelimit']).toMatch(new RegExp(`"${PER_AGENCY}-in-1min"; r=${PER_AGENCY - 2};`));

    // The rest of the allowance, alternating the ways; then both ways refuse, and the refusals are recorded.
    for (let i = 3; i < PER_AGENCY; i++) {
      const path = i % 2 ? '/v1/decisions' : '/v1/decisions/';
      expect((await request(gw.app).post(path).set('Authorization', `Bearer ${police}`).send(encompass)).status).toBe(200);
    }
    for (const path of ['/v1/decisions', '/v1/decisions/']) {
      const refused = await request(gw.app).post(path).set('Authorization', `Bearer ${police}`).send(encompass);
      expect(refused.status).toBe(429);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await entryOf(refused.headers['x-request-id'] as string)).toEqual([
        { kind: 'request_refused', outcome: 'rate_limited', agency_id: 'test-police' },
      ]);
    }
  });

  it('refuses alike on the direct way: no token (401, counted), a body that is not JSON (415), duplicate keys (400)', async () => {
    const before = await gw.countedRefusals('unauthenticated');
    const anonymous = await request(gw.app).post('/v1/decisions').send(encompass);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(await gw.countedRefusals('unauthenticated')).toBe(before + 1);

    const csc = await gw.issuers.token({ agency: 'test-csc', scope: 'decisions' });
    const text = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${csc}`)
      .set('Content-Type', 'text/plain')
      .send('hello');
    expect(text.status).toBe(415);
    const twice = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${csc}`)
      .set('Content-Type', 'application/json')
      .send('{"purpose":"operation_encompass","purpose":"child_protection_enquiry"}');
    expect(twice.status).toBe(400);
    expect(twice.body.errors[0].pointer).toBe('/purpose');
    for (const res of [text, twice]) {
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect((await entryOf(res.headers['x-request-id'] as string)).map((e) => e.kind)).toEqual(['request_refused']);
    }
  });
});
