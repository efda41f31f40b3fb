/**
 * The verifier the token-attack tests (tests/security/jwt-*.test.ts) aim at: local test issuers for four agencies
 * signing with ES256, RS256, PS256 and EdDSA, a rogue issuer the gateway does not trust minting tokens that look
 * exactly like a trusted agency's, and the verifier trusting the first four. `useTrustedIssuers()` registers the
 * beforeAll/afterAll that start and stop them and returns them (after beforeAll) with `refused`, the assertion that a
 * token is refused with a status, a code, a reason, the right challenge, and without echoing the token.
 */
import { base64url } from 'jose';
import { GatewayError } from '../../src/errors';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/token-verifier';
import { startTestIssuers, type TestIssuers } from './token-factory';

export const REALM = 'Bearer realm="safeguard-gateway"';

export const bearer = (token: string): string => `Bearer ${token}`;
export const b64json = (value: unknown): string => base64url.encode(JSON.stringify(value));
export const parts = (token: string): [string, string, string] => token.split('.') as [string, string, string];

export function useTrustedIssuers() {
  let issuers: TestIssuers;
  let rogue: TestIssuers;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    issuers = await startTestIssuers(['police', 'csc', 'school', 'mash'], { algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'] });
    // An issuer the gateway does not trust, minting tokens that look exactly like a trusted agency's.
    rogue = await startTestIssuers(['police']);
    verifier = createTokenVerifier({ agencies: issuers.agencies, audience: issuers.audience, allowInsecureIssuers: true });
  });
  afterAll(async () => {
    await issuers?.close();
    await rogue?.close();
  });

  async function refused(
    authorization: string | undefined,
    status: number,
    code: string,
    detail?: RegExp,
    ctx = {},
  ): Promise<GatewayError> {
    const result = await verifier.verify(authorization, ctx);
    if (result.ok) throw new Error(`expected a refusal (${code}), got a principal for ${result.value.agency.id}`);
    const error = result.error;
    expect(error).toBeInstanceOf(GatewayError);
    expect({ status: error.status, code: error.code }).toEqual({ status, code });
    if (detail) expect(error.detail).toMatch(detail);
    if (status === 401) expect(error.extras.wwwAuthenticate).toMatch(/^Bearer realm="safeguard-gateway"/);
    if (code === 'invalid_token') expect(error.extras.wwwAuthenticate).toContain('error="invalid_token"');
    // Never echo the token.
    const token = authorization?.split(' ').pop() ?? '';
    if (token.length > 20) {
      for (const part of token.split('.'))
        if (part.length > 8) expect(`${error.detail} ${error.extras.wwwAuthenticate ?? ''}`).not.toContain(part);
    }
    return error;
  }

  return {
    get issuers() {
      return issuers;
    },
    get rogue() {
      return rogue;
    },
    get verifier() {
      return verifier;
    },
    refused,
  };
}
