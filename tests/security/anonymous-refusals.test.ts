/**
 * Item 8: anyone without a token must not grow the immutable ledger one row per request. Refusals of unidentified
 * callers are counted per source address, problem and window, and each closed window becomes ONE ledger entry with
 * the count and the first and last time; refusals of authenticated callers stay one entry each.
 */
import request from 'supertest';
import { verifyLedger } from '../../src/audit/verify';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const WINDOW_MS = 1000;
const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  fields: ['name'],
  facts: { child_present_at_incident: true, hours_since_incident: 10 },
};

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ refusalWindowMs: WINDOW_MS });
});
afterAll(async () => {
  await gw?.close();
});

const ledgerCount = async (): Promise<number> => (await gw.ledgerRows()).length;

/** Folds until every window that was open is closed and folded (windows close on the database clock). */
async function foldAll(): Promise<void> {
  await new Promise((r) => setTimeout(r, WINDOW_MS + 200));
  await gw.foldRefusals();
  expect(await gw.db.asOwner('SELECT 1 FROM anonymous_refusals')).toEqual([]);
}

it('100 requests without a token add no ledger row each, and become one summary entry with the count and first/last time', async () => {
  await foldAll();
  const before = await ledgerCount();
  const started = Date.now();
  for (let i = 0; i < 100; i++) {
    const res = await request(gw.app).post('/v1/decisions').send(encompass);
    expect(res.status).toBe(401);
  }
  for (let i = 0; i < 5; i++) await request(gw.app).get('/v1/audit').set('Authorization', 'Bearer not-a-token').expect(401);
  expect(await ledgerCount()).toBe(before);
  expect((await gw.countedRefusals('unauthenticated')) + (await gw.countedRefusals('invalid_token'))).toBe(105);

  await foldAll();
  const entries = (await gw.ledgerRows()).slice(before) as Array<{
    kind: string;
    outcome: string;
    agency_id: string | null;
    payload: Record<string, unknown>;
  }>;
  // 100 + 5 refusals within at most a few windows: a handful of entries, never 105.
  expect(entries.length).toBeGreaterThanOrEqual(2);
  expect(entries.length).toBeLessThanOrEqual(10);
  for (const e of entries) {
    expect(e.kind).toBe('anonymous_refusals');
    expect(e.agency_id).toBeNull();
    expect(e.payload).toEqual(
      expect.objectContaining({
        source: expect.stringMatching(/127\.0\.0\.1|::1/),
        status: 401,
        windowSeconds: WINDOW_MS / 1000,
        count: expect.any(Number),
      }),
    );
    const first = Date.parse(String(e.payload.firstAt));
    const last = Date.parse(String(e.payload.lastAt));
    expect(first).toBeLessThanOrEqual(last);
    expect(first).toBeGreaterThanOrEqual(Date.parse(String(e.payload.windowStart)));
    expect(first).toBeGreaterThanOrEqual(started - 5000);
  }
  const total = (outcome: string): number => entries.filter((e) => e.outcome === outcome).reduce((n, e) => n + Number(e.payload.count), 0);
  expect(total('unauthenticated')).toBe(100);
  expect(total('invalid_token')).toBe(5);
  expect((await verifyLedger(gw.pool)).ok).toBe(true);

  // The summaries are visible to auditors like any entry.
  const auditor = await gw.issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'auditor-1', scope: 'audit:read' });
  const page = await request(gw.app).get('/v1/audit?kind=anonymous_refusals').set('Authorization', `Bearer ${auditor}`).expect(200);
  expect((page.body.entries as unknown[]).length).toBe(entries.length);
});

it('refusals of an authenticated caller stay one ledger entry each', async () => {
  await foldAll();
  const police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
  const before = await ledgerCount();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .send({ ...encompass, purpose: 'gossip' });
    expect(res.status).toBe(400);
    ids.push(String(res.headers['x-request-id']));
  }
  const rows = (await gw.ledgerRows()).slice(before) as Array<{ kind: string; request_id: string; agency_id: string }>;
  expect(rows.map((r) => [r.kind, r.request_id, r.agency_id])).toEqual(ids.map((id) => ['request_refused', id, 'test-police']));
  expect(await gw.countedRefusals('unknown_word')).toBe(0);
});
