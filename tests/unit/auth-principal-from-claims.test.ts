/**
 * `principalFromClaims` per token profile, against tokens shaped exactly like each provider's documented examples
 * (tests/support/provider-tokens.ts). Pure: no signature here — the same shapes, really signed and verified over
 * HTTP discovery + JWKS, are in tests/security/token-profiles.test.ts.
 */
import type { JWTPayload } from 'jose';
import { principalFromClaims, type ClaimsInput } from '../../src/auth/claims';
import { tokenProfile } from '../../src/auth/profiles';
import type { Agency } from '../../src/auth/registry';
import { PROVIDER_CASES, type ProviderCase } from '../support/provider-tokens';

const ISS = 'https://idp.example';
const NOW = 1_764_600_000;
const DEFAULT_AUD = 'urn:safeguard-gateway';

function input(c: ProviderCase, claims: JWTPayload, header: Record<string, unknown> = c.header, agency: Partial<Agency> = {}): ClaimsInput {
  return {
    typ: header.typ,
    hasHeader: true,
    claims,
    issuer: `${ISS}${c.issuerPath}`,
    agencies: [{ ...c.agency, issuer: `${ISS}${c.issuerPath}`, ...agency }],
    defaultAudience: DEFAULT_AUD,
  };
}

describe.each(PROVIDER_CASES.map((c) => [c.profile, c] as const))('profile %s', (_name, c) => {
  const profile = tokenProfile(c.profile);
  const iss = `${ISS}${c.issuerPath}`;

  it("the documented client-credentials token → the agency's system, with its scopes", () => {
    const result = principalFromClaims(profile, input(c, c.app(iss, NOW)));
    if (!result.ok) throw result.error;
    expect(result.value.agency.id).toBe(c.agency.id);
    expect(result.value.role).toBe(c.expected.app.role);
    expect(result.value.practitioner).toBeUndefined();
    expect([...result.value.scopes].sort()).toEqual([...c.expected.app.scopes].sort());
  });

  it('the documented practitioner token → the mapped role, the person, the scopes', () => {
    const result = principalFromClaims(profile, input(c, c.person(iss, NOW)));
    if (!result.ok) throw result.error;
    expect(result.value.role).toBe(c.expected.person.role);
    expect(result.value.practitioner?.subject).toBe(c.expected.person.subject);
    if (c.expected.person.name) expect(result.value.practitioner?.name).toBe(c.expected.person.name);
    expect([...result.value.scopes].sort()).toEqual([...c.expected.person.scopes].sort());
  });

  it('a role the agency maps to nothing → 403 naming what it carried', () => {
    const result = principalFromClaims(profile, input(c, c.unmappedRole(c.person(iss, NOW))));
    expect(!result.ok && { status: result.error.status, code: result.error.code }).toEqual({ status: 403, code: 'forbidden' });
  });

  it('the provider\'s ID token → 401 that says "ID token"', () => {
    const id = c.idToken(iss, NOW);
    const result = principalFromClaims(profile, input(c, id.payload, id.header));
    expect(!result.ok && result.error.status).toBe(401);
    expect(!result.ok && result.error.detail).toMatch(/ID token/);
  });

  it('an access token is never called an ID token (a wrong typ says typ, not "ID token")', () => {
    const result = principalFromClaims(profile, input(c, c.app(iss, NOW), { typ: 'dpop+jwt' }));
    expect(!result.ok && result.error.detail).toMatch(/not an access token of the kind/);
    expect(!result.ok && result.error.detail).not.toMatch(/ID token/);
  });

  it('several audiences → 401 unless the agency allows it', () => {
    const aud = [c.agency.audience ?? DEFAULT_AUD, 'https://other-api.example'];
    const refused = principalFromClaims(profile, input(c, { ...c.app(iss, NOW), aud }));
    expect(!refused.ok && refused.error.detail).toMatch(/several audiences/);
    const allowed = principalFromClaims(profile, input(c, { ...c.app(iss, NOW), aud }, c.header, { allowMultipleAudiences: true }));
    expect(allowed.ok).toBe(true);
  });

  it("a wrong audience → 401; the GATEWAY_AUDIENCE does not stand in for the agency's own", () => {
    const wrong = principalFromClaims(profile, input(c, { ...c.app(iss, NOW), aud: 'https://other-api.example' }));
    expect(!wrong.ok && wrong.error.detail).toMatch(/wrong audience/);
    if (c.agency.audience) {
      const gatewayDefault = principalFromClaims(profile, input(c, { ...c.app(iss, NOW), aud: DEFAULT_AUD }));
      expect(gatewayDefault.ok).toBe(false);
    }
  });

  it('a client id not registered to the agency → 401 unknown agency', () => {
    const claim = profile.clientIdClaim;
    const result = principalFromClaims(
      profile,
      input(c, {
        ...c.app(iss, NOW),
        [claim]: 'someone-elses-client',
        ...(c.profile === 'auth0' ? { sub: 'someone-elses-client@clients' } : {}),
      }),
    );
    expect(!result.ok && result.error.detail).toMatch(/Unknown agency/);
  });

  it('a person can never be "system", whatever the roleMap says', () => {
    const roleClaim = JSON.stringify(c.person(iss, NOW)).includes('"role"') ? { role: 'system' } : {};
    const map = Object.fromEntries(Object.keys(c.agency.roleMap ?? { system: 'system' }).map((k) => [k, 'system' as const]));
    const result = principalFromClaims(profile, input(c, { ...c.person(iss, NOW), ...roleClaim }, c.header, { roleMap: map }));
    expect(!result.ok && result.error.status).toBe(403);
  });
});

describe('role mapping rules', () => {
  const c = PROVIDER_CASES.find((p) => p.profile === 'keycloak') as ProviderCase;
  const profile = tokenProfile('keycloak');
  const iss = `${ISS}${c.issuerPath}`;
  it('several mapped roles and no rolePrecedence → 403 naming them', () => {
    const result = principalFromClaims(profile, input(c, c.person(iss, NOW), c.header, { rolePrecedence: undefined }));
    expect(!result.ok && result.error.detail).toMatch(
      /several roles \(police_officer, team_manager\)|several roles \(team_manager, police_officer\)/,
    );
  });
  it('a mapped role the agency may not use → 403', () => {
    const result = principalFromClaims(
      profile,
      input(c, c.person(iss, NOW), c.header, { allowedRoles: ['system', 'police_officer'], rolePrecedence: ['team_manager'] }),
    );
    expect(!result.ok && result.error.status).toBe(403);
  });
  it('Keycloak\'s default realm roles alone make a service account "system", not a 403', () => {
    const result = principalFromClaims(profile, input(c, c.app(iss, NOW)));
    expect(result.ok && result.value.role).toBe('system');
  });
  it('a Keycloak refresh token (payload typ "Refresh") → 401', () => {
    const result = principalFromClaims(profile, input(c, { ...c.app(iss, NOW), typ: 'Refresh' }));
    expect(!result.ok && result.error.detail).toMatch(/not an access token/);
  });
  it('Entra: a v1 token at a v2 agency → 401 naming the version', () => {
    const v2 = PROVIDER_CASES.find((p) => p.profile === 'entra-v2') as ProviderCase;
    const v2iss = `${ISS}${v2.issuerPath}`;
    const result = principalFromClaims(tokenProfile('entra-v2'), input(v2, { ...v2.app(v2iss, NOW), ver: '1.0' }));
    expect(!result.ok && result.error.detail).toMatch(/version "1.0"/);
  });
  it("Entra: without idtyp, a token with delegated scopes (scp) is a person's", () => {
    const v2 = PROVIDER_CASES.find((p) => p.profile === 'entra-v2') as ProviderCase;
    const v2iss = `${ISS}${v2.issuerPath}`;
    const { idtyp: _drop, ...app } = v2.app(v2iss, NOW);
    expect(principalFromClaims(tokenProfile('entra-v2'), input(v2, app)).ok).toBe(true);
    const withScp = principalFromClaims(tokenProfile('entra-v2'), input(v2, { ...app, scp: 'Decisions.Request' }));
    expect(!withScp.ok && withScp.error.detail).toMatch(/no role/);
  });
});
