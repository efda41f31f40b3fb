/**
 * Rate limits: per agency (after authentication, so one agency cannot starve another) and per client address
 * (before authentication). Over the limit: 429 problem+json with Retry-After and the IETF RateLimit headers
 * (draft-8), nothing decided, the refusal recorded in the ledger. Real tokens, real PostgreSQL; small limits
 * so the test needs only a handful of requests.
 */
import request, { type Response } from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const PER_AGENCY = 5;

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  fields: ['name', 'incident_date', 'child_involvement'],
  // hours_since_incident 0: the next school day cannot have started since, so the notification is in time whenever the test runs.
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};
const cscAsk = {
  from: { agencyType: 'childrens_social_care' },
  to: { agencyType: 'police', role: 'police_officer' },
  purpose: 'child_protection_enquiry',
  subjectRole: 'child',
  fields: ['name'],
  facts: {},
};
const DECISION_MEMBERS = [
  'decision',
  'permittedFields',
  'withheldFields',
  'rules',
  'lawfulBasis',
  'reasons',
  'auditEntryId',
  'receipt',
  'entries',
];

/**
 * The draft-8 `RateLimit` header, a list with one item per limiter: `"<policy>"; r=<remaining>; t=<seconds>`.
 * Both limiters (per address, per agency) add their item; the policy names are express-rate-limit's default
 * `<limit>-in-1min`. Returns the item of the limiter with this limit.
 */
function rateLimitHeader(res: Response, limit: number): { remaining: number; reset: number } {
  const value = String(res.headers['ratelimit'] ?? '');
  const item = value.split(/,\s*/).find((i) => i.startsWith(`"${limit}-in-1min"`));
  const r = /;\s*r=(\d+)/.exec(item ?? '');
  const t = /;\s*t=(\d+)/.exec(item ?? '');
  if (!r || !t) throw new Error(`no RateLimit item for the limit ${limit} in "${value}"`);
  expect(String(res.headers['ratelimit-policy'] ?? '')).toMatch(new RegExp(`"${limit}-in-1min";\\s*q=${limit};\\s*w=60`));
  return { remaining: Number(r[1]), reset: Number(t[1]) };
}

function expect429(res: Response, limit: number): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status: 429, code: 'rate_limited' });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.body.detail).toMatch(new RegExp(`Try again in ${retryAfter} seconds`));
  const header = rateLimitHeader(res, limit);
  expect(header.remaining).toBe(0);
  expect(header.reset).toBeLessThanOrEqual(60);
  for (const member of DECISION_MEMBERS) expect(res.body).not.toHaveProperty(member);
}

describe('per-agency limit', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ perAgencyPerMinute: PER_AGENCY });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('answers 429 with Retry-After and RateLimit headers once an agency is over its limit, audited; another agency is unaffected', async () => {
    const police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
    // The same agency through its other client (a practitioner): it shares the agency's allowance.
    const officer = await gw.issuers.token({
      agency: 'test-police',
      clientId: 'test-police-web',
      sub: 'officer-5',
      role: 'police_officer',
    });
    const csc = await gw.issuers.token({ agency: 'test-csc', scope: 'decisions' });

    for (let i = 0; i < PER_AGENCY; i++) {
      const ok = await request(gw.app)
        .post('/v1/decisions')
        .set('Authorization', `Bearer ${i % 2 ? officer : police}`)
        .send(encompass);
      expect(ok.status).toBe(200);
      expect(rateLimitHeader(ok, PER_AGENCY).remaining).toBe(PER_AGENCY - 1 - i);
    }

    const before = Number(
      (await gw.db.asOwner<{ n: string }>("SELECT count(*)::text AS n FROM audit_ledger WHERE kind = 'decision'"))[0]!.n,
    );
    for (const token of [police, officer]) {
      const refused = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${token}`).send(encompass);
      expect429(refused, PER_AGENCY);
      const rows = await gw.db.asOwner<{ kind: string; outcome: string; agency_id: string; payload: { status: number } }>(
        'SELECT kind, outcome, agency_id, payload FROM audit_ledger WHERE request_id = $1',
        [refused.headers['x-request-id']],
      );
      expect(rows.map((r) => ({ kind: r.kind, outcome: r.outcome, agency_id: r.agency_id, status: r.payload.status }))).toEqual([
        { kind: 'request_refused', outcome: 'rate_limited', agency_id: 'test-police', status: 429 },
      ]);
    }
    // Nothing was decided for the refused requests.
    expect(Number((await gw.db.asOwner<{ n: string }>("SELECT count(*)::text AS n FROM audit_ledger WHERE kind = 'decision'"))[0]!.n)).toBe(
      before,
    );

    // Children's social care has its own allowance.
    const other = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${csc}`).send(cscAsk);
    expect(other.status).toBe(200);
    expect(other.body.auditEntryId).toEqual(expect.any(String));
    expect(rateLimitHeader(other, PER_AGENCY).remaining).toBe(PER_AGENCY - 1);
  });

  it('limits the auditor routes too (same agency allowance), with the same 429 answer', async () => {
    const auditor = await gw.issuers.token({ agency: 'test-mash', role: 'auditor', sub: 'aud-2', scope: 'audit:read' });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < PER_AGENCY + 1; i++) {
      last = await request(gw.app).get('/v1/audit?limit=1').set('Authorization', `Bearer ${auditor}`);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array<number>(PER_AGENCY).fill(200), 429]);
    expect429(last!, PER_AGENCY);
    expect(last!.body).not.toHaveProperty('entries');
  });
});

describe('per-address limit (before authentication)', () => {
  const PER_IP = 3;
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ perAgencyPerMinute: 1000, perIpPerMinute: PER_IP });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('refuses an address over its limit even with no token (429 before any token is checked), and records it', async () => {
    for (let i = 0; i < PER_IP; i++) {
      const res = await request(gw.app).post('/v1/decisions').send(encompass);
      expect(res.status).toBe(401);
    }
    const police = await gw.issuers.token({ agency: 'test-police' });
    const res = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(encompass);
    expect429(res, PER_IP);
    expect(res.body.detail).toMatch(/this address/);
    // Refused before authentication: no actor is known, so it is counted per source and window (one ledger entry per window).
    expect(await gw.db.asOwner('SELECT kind FROM audit_ledger WHERE request_id = $1', [res.headers['x-request-id']])).toEqual([]);
    expect(await gw.countedRefusals('rate_limited')).toBe(1);
    expect(await gw.countedRefusals('unauthenticated')).toBe(PER_IP);
  });
});
