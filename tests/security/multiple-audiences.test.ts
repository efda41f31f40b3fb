/**
 * Issue 9 item 9 (implemented by the identity-provider work, src/auth/): a token with several audiences
 * (`aud: ["urn:safeguard-gateway", "urn:other"]`) could be replayed here by another API that received it. Through
 * the real HTTP server: refused 401 unless the agency's registry entry sets `allowMultipleAudiences`.
 */
import request from 'supertest';
import type { Agency } from '../../src/auth/registry';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';
import { TEST_AUDIENCE } from '../support/token-factory';

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  fields: ['name'],
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};

let gw: TestGateway;
beforeAll(async () => {
  // A second police registry entry on the same issuer, for one client, that allows several audiences.
  gw = await startTestGateway({
    extraAgencies: (issued) => {
      const police = issued.find((a) => a.id === 'test-police') as Agency;
      return [
        {
          ...police,
          id: 'test-police-multi',
          name: 'Police (several audiences allowed)',
          clientIds: ['test-police-multi-system'],
          allowMultipleAudiences: true,
        },
      ];
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

it('a token for the gateway AND another API: 401, nothing decided', async () => {
  const token = await gw.issuers.token({ agency: 'test-police', scope: 'decisions', audience: [TEST_AUDIENCE, 'urn:other'] });
  const res = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${token}`).send(encompass);
  expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'invalid_token' });
  expect(res.body.detail).toMatch(/several audiences/);
  expect(res.body).not.toHaveProperty('decision');
  // The control: the same token with the one audience is accepted.
  const one = await gw.issuers.token({ agency: 'test-police', scope: 'decisions', audience: TEST_AUDIENCE });
  await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${one}`).send(encompass).expect(200);
});

it("accepted where the agency's registry entry sets allowMultipleAudiences", async () => {
  const token = await gw.issuers.token({
    agency: 'test-police',
    clientId: 'test-police-multi-system',
    sub: 'test-police-multi-system',
    scope: 'decisions',
    audience: [TEST_AUDIENCE, 'urn:other'],
  });
  const res = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${token}`).send(encompass);
  expect(res.status).toBe(200);
  expect(res.body.decision).toBe('permit');
});
