/**
 * Issuer discovery and key fetching: for each trusted issuer, its OpenID discovery document (openid-client) names the
 * `jwks_uri`, whose key set jose fetches and caches (`createRemoteJWKSet`). Discovery happens lazily, once, shared by
 * concurrent requests; after a failure the issuer is not asked again until a backoff has passed (doubling from
 * `retrySeconds` up to `maxRetrySeconds`), so a down issuer is not hammered and requests fail fast (503) meanwhile.
 */
import * as client from 'openid-client';
import { createRemoteJWKSet, type RemoteJWKSet } from 'jose';
import type { Clock } from './clock';

export interface IssuerKeysOptions {
  readonly allowInsecureIssuers: boolean;
  /** First wait after a failed discovery (seconds); each further failure doubles it. */
  readonly retrySeconds: number;
  readonly maxRetrySeconds: number;
  readonly httpTimeoutSeconds: number;
  readonly clock: Clock;
}

interface IssuerState {
  keys?: Promise<RemoteJWKSet>;
  failures: number;
  retryAt?: number;
  failure?: string;
}

export interface IssuerKeys {
  /** The issuer's key set (rejects while the issuer is unreachable or backing off). */
  keysFor(issuer: string): Promise<RemoteJWKSet>;
  /** Discovery and key-set reachability, for readiness. */
  check(issuer: string): Promise<{ ok: true } | { ok: false; detail: string }>;
}

export function createIssuerKeys(issuers: readonly string[], options: IssuerKeysOptions): IssuerKeys {
  const { allowInsecureIssuers, retrySeconds, maxRetrySeconds, httpTimeoutSeconds, clock } = options;
  const states = new Map<string, IssuerState>(issuers.map((issuer) => [issuer, { failures: 0 }]));

  async function discover(issuer: string): Promise<RemoteJWKSet> {
    // The client id is irrelevant to discovery; the gateway never calls the issuer's endpoints as a client here.
    const config = await client.discovery(new URL(issuer), 'safeguard-gateway', undefined, undefined, {
      timeout: httpTimeoutSeconds,
      ...(allowInsecureIssuers ? { execute: [client.allowInsecureRequests] } : {}),
    });
    const jwksUri = config.serverMetadata().jwks_uri;
    if (!jwksUri) throw new Error('its discovery document has no jwks_uri');
    const url = new URL(jwksUri);
    if (url.protocol !== 'https:' && !(allowInsecureIssuers && url.protocol === 'http:')) throw new Error('its jwks_uri is not https');
    return createRemoteJWKSet(url, { timeoutDuration: httpTimeoutSeconds * 1000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
  }

  function keysFor(issuer: string): Promise<RemoteJWKSet> {
    const state = states.get(issuer);
    if (!state) return Promise.reject(new Error('untrusted issuer'));
    if (state.keys) return state.keys;
    if (state.retryAt !== undefined && clock.now() < state.retryAt) return Promise.reject(new Error(state.failure ?? 'discovery failed'));
    const pending = discover(issuer);
    state.keys = pending;
    pending.then(
      () => {
        state.failures = 0;
        delete state.retryAt;
        delete state.failure;
      },
      (e: unknown) => {
        if (state.keys === pending) delete state.keys;
        state.failures += 1;
        const wait = Math.min(retrySeconds * 2 ** (state.failures - 1), maxRetrySeconds);
        state.retryAt = clock.now() + wait * 1000;
        state.failure = e instanceof Error ? e.message : 'discovery failed';
      },
    );
    return pending;
  }

  async function check(issuer: string): Promise<{ ok: true } | { ok: false; detail: string }> {
    try {
      const keys = await keysFor(issuer);
      if (keys.jwks() === undefined) await keys.reload();
      return { ok: true };
    } catch (e) {
      const reason = e instanceof Error ? e.message : 'unknown error';
      return { ok: false, detail: `discovery or key set unavailable: ${reason.slice(0, 200)}` };
    }
  }

  return { keysFor, check };
}
