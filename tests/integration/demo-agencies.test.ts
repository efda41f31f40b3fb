/**
 * A demo agency of every agency type in the development registry (config/agencies.dev.json), so a practitioner
 * of any agency can try the gateway as their own agency and outside checks can run every route on `npm start`:
 * each has a system client whose token (client credentials, private_key_jwt, as `npm run demo:token` gets it)
 * the real verifier accepts as that agency, and a practitioner account for the pages. The deciders that the
 * catalogue's refer rules name (team manager, data protection officer, and the Caldicott Guardian at health
 * agencies) have an account at every agency whose disclosures those rules cover.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadAgencyRegistry, type Agency } from '../../src/auth/registry';
import { createTokenVerifier } from '../../src/auth/token-verifier';
import { fetchClientCredentialsToken } from '../../src/cli/demo-token';
import { startDevIdp, type DevIdp } from '../../src/devidp/dev-idp';
import { loadDevIdpConfig } from '../../src/devidp/config';
import { loadPolicyCatalogue } from '../../src/policy';
import { AGENCY_TYPES } from '../../src/vocabulary/vocabulary';

const AUDIENCE = 'urn:safeguard-gateway';
const registry = loadAgencyRegistry('config/agencies.dev.json');
const catalogue = loadPolicyCatalogue('policies').catalogue;

let dataDir: string;
let idp: DevIdp;
beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'sg-demo-agencies-'));
  idp = await startDevIdp({
    host: '127.0.0.1',
    port: 0,
    agencies: registry,
    audience: AUDIENCE,
    dataDir,
    webRedirectUri: 'http://127.0.0.1:1/auth/callback',
  });
});
afterAll(async () => {
  await idp?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const agencyOf = (type: string): Agency => {
  const found = registry.find((a) => a.agencyType === type);
  if (!found) throw new Error(`no demo agency of type ${type}`);
  return found;
};

describe('the development registry', () => {
  it('has a demo agency of every agency type', () => {
    expect([...new Set(registry.map((a) => a.agencyType))].sort()).toEqual([...AGENCY_TYPES].sort());
  });

  it('gives every demo agency a system client the verifier accepts as that agency (as demo:token gets it)', async () => {
    const agencies = registry.map((a) => ({ ...a, issuer: idp.issuerFor(a.id) }));
    const verifier = createTokenVerifier({ agencies, audience: AUDIENCE, allowInsecureIssuers: true });
    for (const type of AGENCY_TYPES) {
      const agency = agencyOf(type);
      const { accessToken } = await fetchClientCredentialsToken({
        issuer: idp.issuerFor(agency.id),
        clientId: `${agency.id}-system`,
        dataDir,
        resource: AUDIENCE,
        scope: 'decisions',
      });
      const result = await verifier.verify(`Bearer ${accessToken}`, {});
      if (!result.ok) throw result.error;
      expect(result.ok && { role: result.value.role, agency: result.value.agency.id, type: result.value.agency.agencyType }).toEqual({
        role: 'system',
        agency: agency.id,
        type,
      });
    }
  });

  it('gives every demo agency a practitioner account for the pages, and the deciders its rules refer to', () => {
    const devidp = loadDevIdpConfig('config/devidp.json', registry);
    for (const type of AGENCY_TYPES) {
      const agency = agencyOf(type);
      const accounts = devidp.get(agency.id)?.accounts ?? [];
      expect(accounts.some((a) => a.role !== 'system' && a.role !== 'auditor')).toBe(true);
      expect(devidp.get(agency.id)?.clients.some((c) => c.kind === 'web')).toBe(true);
      // Who the catalogue's refer rules send this agency's disclosures to must be able to sign in there.
      const deciders = new Set(
        catalogue.rules
          .filter(
            (r) =>
              r.effect === 'refer' &&
              r.referTo !== undefined &&
              r.referTo !== 'data_protection_officer' &&
              (r.from.agencyTypes.kind === 'any' ||
                (r.from.agencyTypes.kind === 'only'
                  ? r.from.agencyTypes.values.includes(type)
                  : !r.from.agencyTypes.values.includes(type))),
          )
          .map((r) => r.referTo),
      );
      if (type !== 'member_of_public') deciders.add('data_protection_officer');
      for (const role of deciders) {
        expect({ agency: agency.id, role, account: accounts.some((a) => a.role === role) }).toEqual({
          agency: agency.id,
          role,
          account: true,
        });
      }
    }
  });
});
