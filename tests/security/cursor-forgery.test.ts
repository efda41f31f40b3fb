/**
 * Item 10: an auditor's paging cursor is signed (HMAC under a key derived from AUDIT_PSEUDONYM_KEY), so the seq
 * inside it cannot be edited, nor a cursor forged — through the real HTTP server.
 */
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

let gw: TestGateway;
let auditor: string;

beforeAll(async () => {
  gw = await startTestGateway();
  const police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
  const body = {
    from: { agencyType: 'police' },
    to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
    purpose: 'operation_encompass',
    subjectRole: 'child',
    fields: ['name'],
    facts: { child_present_at_incident: true, hours_since_incident: 10 },
  };
  for (let i = 0; i < 4; i++) await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(body).expect(200);
  auditor = await gw.issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'auditor-1', scope: 'audit:read' });
});
afterAll(async () => {
  await gw?.close();
});

const page = (query: string) => request(gw.app).get(`/v1/audit?kind=decision&limit=1${query}`).set('Authorization', `Bearer ${auditor}`);

it('an issued cursor pages on; the same cursor with its seq edited, or a hand-made one, is refused 400 and recorded', async () => {
  const first = await page('').expect(200);
  const cursor = String(first.body.nextCursor);
  const second = await page(`&cursor=${cursor}`).expect(200);
  expect(second.body.entries[0].seq).toBeLessThan(first.body.entries[0].seq);

  // Edit the seq inside (keep the MAC): what an attacker would try to reach entries out of order.
  const text = cursor.slice(0, -22);
  const inner = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as { v: number; b: number; f: string };
  const edited = `${Buffer.from(JSON.stringify({ ...inner, b: inner.b + 100 })).toString('base64url')}${cursor.slice(-22)}`;
  // A cursor of the old, unsigned form.
  const unsigned = Buffer.from(JSON.stringify({ ...inner, b: inner.b + 100 })).toString('base64url');
  for (const bad of [edited, unsigned, `${text}${'A'.repeat(22)}`]) {
    const res = await page(`&cursor=${bad}`);
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: 'bad_request' });
    expect(res.body).not.toHaveProperty('entries');
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/cursor' })]);
    const rows = await gw.db.asOwner<{ kind: string; outcome: string }>('SELECT kind, outcome FROM audit_ledger WHERE request_id = $1', [
      res.headers['x-request-id'],
    ]);
    expect(rows).toEqual([{ kind: 'request_refused', outcome: 'bad_request' }]);
  }
});
