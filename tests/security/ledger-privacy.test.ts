/**
 * What the ledger keeps cannot be turned back into what was shared: content hashes are keyed (HMAC), so a small value
 * (a date of birth) cannot be confirmed by hashing guesses, and identifiers in a refused request's path (a person id,
 * a record id) are kept only as pseudonyms.
 */
import { createHash, randomUUID } from 'node:crypto';
import canonicalize from 'canonicalize';
import request from 'supertest';
import { contentHash, useContentHashKey } from '../../src/audit/entry';
import { pseudonymiser, pseudonymisedPath } from '../../src/audit/pseudonym';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const KEY = 'privacy-test-content-hash-key-0123456789';
let gw: TestGateway;

beforeAll(async () => {
  useContentHashKey(KEY); // as src/gateway.ts does at start-up
  gw = await startTestGateway();
});
afterAll(async () => {
  useContentHashKey(null);
  await gw.close();
});

it('keys content hashes: a date of birth cannot be recovered by trying every date', () => {
  const answer = { dateOfBirth: '2015-03-14' };
  const stored = contentHash(answer);
  expect(stored).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
  // The review's attack: hash every date of the last 30 years the way the ledger used to, look for the stored value.
  const start = Date.UTC(1996, 0, 1);
  let found: string | null = null;
  for (let d = 0; d < 30 * 366; d++) {
    const date = new Date(start + d * 86_400_000).toISOString().slice(0, 10);
    const guess = createHash('sha256')
      .update(canonicalize({ dateOfBirth: date }) ?? '', 'utf8')
      .digest('hex');
    if (stored.endsWith(guess)) found = date;
  }
  expect(found).toBeNull();
  // With the key (the operator's, e.g. for an auditor's check) the same content gives the same hash.
  expect(contentHash({ dateOfBirth: '2015-03-14' })).toBe(stored);
  expect(contentHash({ dateOfBirth: '2015-03-15' })).not.toBe(stored);
});

it('records a refused request without the person id in its path: the route shape and a pseudonym only', async () => {
  const police = await gw.issuers.token({ agency: 'test-police', scope: 'records:read' });
  const personId = randomUUID();
  const res = await request(gw.app).get(`/v1/subjects/${personId}/records?purpose=gossip`).set('Authorization', `Bearer ${police}`);
  expect(res.status).toBe(400);
  const rows = await gw.db.asOwner<{ kind: string; payload: { path: string; pathIds?: string[] } }>(
    `SELECT kind, payload FROM audit_ledger WHERE kind = 'request_refused' ORDER BY seq DESC LIMIT 1`,
  );
  expect(rows[0]?.payload.path).toBe('/v1/subjects/{id}/records');
  expect(rows[0]?.payload.pathIds).toEqual([pseudonymiser('test-pseudonym-key-test-pseudonym-key')(personId)]);
  const everything = JSON.stringify(await gw.db.asOwner('SELECT * FROM audit_ledger'));
  expect(everything).not.toContain(personId);
});

it('keeps the words of the API and replaces every identifier', () => {
  const p = pseudonymiser('k'.repeat(40));
  expect(pseudonymisedPath('/v1/information-requests/1b4e28ba-2fa1-11d2-883f-0016d3cca427/responses', p)).toEqual({
    path: '/v1/information-requests/{id}/responses',
    ids: [p('1b4e28ba-2fa1-11d2-883f-0016d3cca427')],
  });
  expect(pseudonymisedPath('/v1/records/NP-2026-001234', p).path).toBe('/v1/records/{id}');
  expect(pseudonymisedPath('/v1/audit/checkpoint/key').path).toBe('/v1/audit/checkpoint/key');
  expect(pseudonymisedPath('/v1/records/abc%20def').ids).toEqual([]);
});
