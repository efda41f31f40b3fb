/** What every provider's documented token shapes give the token-profile tests (tests/support/provider-tokens.ts). */
import type { JWTPayload } from 'jose';
import type { Agency } from '../../../src/auth/registry';
import type { TokenProfileId } from '../../../src/auth/profiles';
import type { Role } from '../../../src/vocabulary/vocabulary';

export interface ProviderCase {
  readonly profile: TokenProfileId;
  /** Where the provider puts its issuer (path on the local issuer host). */
  readonly issuerPath: string;
  /** The registry entry, without issuer. */
  readonly agency: Omit<Agency, 'issuer'>;
  /** The documented header of its access tokens (alg and kid are added by the signer). */
  readonly header: Record<string, unknown>;
  /** A client-credentials token (the agency's system acting alone). */
  app(iss: string, now: number): JWTPayload;
  /** A practitioner's token. */
  person(iss: string, now: number): JWTPayload;
  /** The provider's ID token for the practitioner (never an access token). */
  idToken(iss: string, now: number): { header: Record<string, unknown>; payload: JWTPayload };
  /** The person token carrying a role value the agency maps to nothing. */
  unmappedRole(payload: JWTPayload): JWTPayload;
  readonly expected: {
    readonly app: { role: Role; scopes: string[] };
    readonly person: { role: Role; scopes: string[]; subject: string; name?: string };
  };
}
