/**
 * Who is calling: the result of a verified access token, resolved against the trust registry. Built only by the
 * token verifier (src/auth/token-verifier.ts); everything downstream (policy, audit) trusts it and nothing else.
 */
import type { Role } from '../vocabulary/vocabulary';
import type { Agency } from './registry';

export interface Practitioner {
  /** The token's `sub` (the agency IdP's identifier for the person). */
  readonly subject: string;
  /** The token's `name` claim, when the agency sends one. */
  readonly name?: string;
}

export interface Principal {
  /** The registry agency whose issuer AND client ids contain the token's `iss` and `client_id`. */
  readonly agency: Agency;
  readonly issuer: string;
  readonly clientId: string;
  /** A vocabulary role the agency is allowed (`system` for a client acting with no person). */
  readonly role: Role;
  /** Present when a person acts (`sub` differs from `client_id`). */
  readonly practitioner?: Practitioner;
  /** From the token's `scope` claim (what the issuer granted, not what the client asked for). */
  readonly scopes: ReadonlySet<string>;
  /** The token's `jti`. */
  readonly tokenId?: string;
  readonly expiresAt: Date;
}
