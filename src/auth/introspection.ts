/**
 * RFC 7662 token introspection for agencies whose access tokens are opaque (tokenProfile "introspection"): the
 * gateway authenticates to the agency's endpoint as its own client (client_secret_basic, through openid-client) and
 * asks whether the token is active. An endpoint that cannot answer is a 503 (never an acceptance); `active: false`
 * is a 401. What the endpoint says is then read like any token's claims (src/auth/claims.ts), with the same time
 * checks jose makes for a JWT, on the injected clock.
 */
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import type { JWTPayload } from 'jose';
import type { Clock } from './clock';
import type { Agency } from './registry';

export type IntrospectionAnswer = { readonly active: false } | { readonly active: true; readonly claims: JWTPayload };

export interface Introspector {
  readonly endpoint: string;
  /** Rejects when the endpoint cannot be asked or answers wrongly (the caller maps that to 503). */
  introspect(token: string): Promise<IntrospectionAnswer>;
}

export interface IntrospectorOptions {
  readonly allowInsecure: boolean;
  readonly timeoutSeconds: number;
}

/** One introspector per endpoint; its credentials are those of the first agency naming it (they must agree). */
export function createIntrospector(endpoint: string, agencies: readonly Agency[], options: IntrospectorOptions): Introspector {
  const settings = agencies[0]?.introspection;
  if (!settings) throw new Error(`introspection endpoint ${endpoint}: no agency settings`);
  for (const a of agencies) {
    if (a.introspection?.clientId !== settings.clientId || a.introspection.clientSecretFile !== settings.clientSecretFile) {
      throw new Error(`agencies sharing the introspection endpoint ${endpoint} must use the same clientId and clientSecretFile`);
    }
  }
  let secret: string;
  try {
    secret = readFileSync(settings.clientSecretFile, 'utf8').trim();
  } catch (e) {
    throw new Error(
      `agency "${agencies[0]?.id ?? '?'}": the introspection client secret file ${settings.clientSecretFile} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: e },
    );
  }
  if (secret === '')
    throw new Error(`agency "${agencies[0]?.id ?? '?'}": the introspection client secret file ${settings.clientSecretFile} is empty`);
  const issuer = agencies[0]?.issuer ?? endpoint;
  const config = new client.Configuration(
    { issuer, introspection_endpoint: endpoint },
    settings.clientId,
    undefined,
    client.ClientSecretBasic(secret),
  );
  config.timeout = options.timeoutSeconds;
  if (options.allowInsecure && endpoint.startsWith('http:')) client.allowInsecureRequests(config);

  return {
    endpoint,
    async introspect(token: string): Promise<IntrospectionAnswer> {
      const answer = await client.tokenIntrospection(config, token, { token_type_hint: 'access_token' });
      if (answer.active !== true) return { active: false };
      return { active: true, claims: answer as unknown as JWTPayload };
    },
  };
}

/** The time checks jose makes on a JWT, for an introspection answer: exp required, nbf/iat not in the future, max age. */
export function timeProblem(claims: JWTPayload, clock: Clock, toleranceSeconds: number, maxAgeSeconds: number): string | undefined {
  const now = Math.floor(clock.now() / 1000);
  if (typeof claims.exp !== 'number')
    return 'The introspection answer for this token has no expiry ("exp"); the gateway accepts only tokens that expire.';
  if (claims.exp <= now - toleranceSeconds) return 'The access token has expired. Get a new one from your sign-in service.';
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now + toleranceSeconds))
    return 'The access token is not valid yet.';
  if (claims.iat !== undefined) {
    if (typeof claims.iat !== 'number' || claims.iat > now + toleranceSeconds) return 'The access token says it was issued in the future.';
    if (now - claims.iat > maxAgeSeconds + toleranceSeconds) return 'The access token was issued too long ago.';
  }
  return undefined;
}
