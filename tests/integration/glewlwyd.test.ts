/**
 * A real OpenID provider nobody here wrote: Glewlwyd 2.7 (Debian package) issues RFC 9068 access tokens by client
 * credentials; the gateway discovers it, fetches its keys and accepts them — through the whole decision API (200,
 * recorded in the ledger) — while a client it does not know, a token for another audience, or a tampered one is refused.
 */
import request from 'supertest';
import type { Agency } from '../../src/auth/registry';
import { createTokenVerifier } from '../../src/auth/token-verifier';
import { startGlewlwyd, type Glewlwyd, type GlewlwydClient } from '../support/glewlwyd';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const POLICE: GlewlwydClient = { clientId: 'glw-police-system', secret: 'glw-police-secret-1', scope: 'decisions' };
const STRANGER: GlewlwydClient = { clientId: 'glw-unregistered', secret: 'glw-stranger-secret', scope: 'decisions' };

let glw: Glewlwyd;
let agency: Agency;
let gateway: TestGateway;

beforeAll(async () => {
  glw = await startGlewlwyd([POLICE, STRANGER]);
  agency = {
    id: 'glewlwyd-police',
    name: 'Glewlwyd Constabulary',
    agencyType: 'police',
    issuer: glw.issuer,
    clientIds: [POLICE.clientId],
    allowedRoles: ['system'],
    audience: glw.resource,
  };
  gateway = await startTestGateway({ extraAgencies: [agency] });
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await glw?.close();
});

const verifier = () => createTokenVerifier({ agencies: [agency], audience: 'urn:safeguard-gateway', allowInsecureIssuers: true });

async function tokenFor(client: GlewlwydClient, resource?: string): Promise<string> {
  const { status, body } = await glw.clientCredentials(client, client.scope, resource);
  expect(status).toBe(200);
  expect(typeof body.access_token).toBe('string');
  return body.access_token as string;
}

describe("Glewlwyd (Debian) as an agency's identity provider", () => {
  it("issues an RFC 9068 token (typ at+jwt, client_id, scope) that the verifier accepts as the agency's system", async () => {
    const token = await tokenFor(POLICE);
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { typ?: string };
    expect(header.typ).toBe('at+jwt');
    const result = await verifier().verify(`Bearer ${token}`, {});
    if (!result.ok) throw result.error;
    expect({
      agency: result.value.agency.id,
      role: result.value.role,
      client: result.value.clientId,
      scopes: [...result.value.scopes],
    }).toEqual({ agency: 'glewlwyd-police', role: 'system', client: POLICE.clientId, scopes: ['decisions'] });
  });

  it('a decision with a Glewlwyd token → 200, recorded in the ledger', async () => {
    const res = await request(gateway.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${await tokenFor(POLICE)}`)
      .send({
        from: { agencyType: 'police' },
        to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
        purpose: 'operation_encompass',
        subjectRole: 'child',
        fields: ['name', 'incident_date'],
        facts: { child_present_at_incident: true, hours_since_incident: 10 },
      });
    expect(res.status).toBe(200);
    expect(res.body.auditEntryId).toEqual(expect.any(String));
    const rows = await gateway.ledgerRows();
    expect(
      rows.some((r) => r.entry_id === res.body.auditEntryId && r.agency_id === 'glewlwyd-police' && r.client_id === POLICE.clientId),
    ).toBe(true);
  });

  it('a client Glewlwyd knows but the trust registry does not → 401 unknown agency', async () => {
    const result = await verifier().verify(`Bearer ${await tokenFor(STRANGER)}`, {});
    expect(!result.ok && result.error.detail).toMatch(/Unknown agency/);
  });

  it('no resource indicator (Glewlwyd then sets aud to the scope list) → 401 wrong audience', async () => {
    const { status, body } = await glw.clientCredentials(POLICE, POLICE.scope, '');
    expect(status).toBe(200);
    const result = await verifier().verify(`Bearer ${String(body.access_token)}`, {});
    expect(!result.ok && result.error.detail).toMatch(/wrong audience/);
  });

  it('a Glewlwyd token with its payload changed after signing → 401', async () => {
    const [h, p, s] = (await tokenFor(POLICE)).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'decisions audit:read' })).toString('base64url')}.${s}`;
    const result = await verifier().verify(`Bearer ${forged}`, {});
    expect(!result.ok && result.error.detail).toMatch(/signature/);
  });
});
