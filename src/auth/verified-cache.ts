/**
 * Successful verifications remembered for at most `seconds` and never past the token's `exp` (nor, for an
 * introspected token, past what the endpoint said). Keyed by the exact Authorization header AND the client
 * certificate on the connection, so a certificate-bound token is never accepted from the cache without it.
 * Refusals are never remembered. The trade-off: a withdrawn key or a revoked token is accepted for at most `seconds`.
 */
import type { Clock } from './clock';
import type { Principal } from './principal';

export interface VerifiedCache {
  get(key: string): Principal | undefined;
  put(key: string, principal: Principal, untilMs?: number): void;
}

export function cacheKey(authorization: string, clientCertThumbprint: string | undefined): string {
  return `${clientCertThumbprint ?? ''} ${authorization}`;
}

export function createVerifiedCache(seconds: number, clock: Clock, maxEntries = 10_000): VerifiedCache {
  const entries = new Map<string, { readonly principal: Principal; readonly until: number }>();
  return {
    get(key) {
      const hit = entries.get(key);
      if (!hit) return undefined;
      if (hit.until > clock.now()) return hit.principal;
      entries.delete(key);
      return undefined;
    },
    put(key, principal, untilMs) {
      if (seconds <= 0) return;
      const until = Math.min(clock.now() + seconds * 1000, principal.expiresAt.getTime(), untilMs ?? Number.POSITIVE_INFINITY);
      if (until <= clock.now()) return;
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(key, { principal, until });
    },
  };
}
