/**
 * Rate limits shared by every gateway instance: the counters live in PostgreSQL (rate-limiter-flexible's
 * RateLimiterPostgres, table `rate_limits`), so a per-agency limit of 10 a minute is 10 across all instances.
 *
 * To keep a busy gateway from paying one database round trip per request, an instance takes its allowance in
 * LEASES: it consumes `lease` points at once in PostgreSQL (one atomic upsert) and hands them out locally. What it
 * was granted is exact — the points that were still free before its upsert, at most `lease` — so the instances
 * together never admit more than the limit; points leased and not used by the end of the window are lost (at most
 * one lease per instance and key, 0.5 % of the limit). Limits under 400 a minute lease one point at a time, so
 * they are exact. Once the shared counter is spent, an instance refuses locally until the window ends (no round trips).
 *
 * If PostgreSQL cannot be reached, an in-memory limiter of the same size stands in (the library's insurance
 * limiter): the gateway keeps limiting per instance rather than failing every request on the limiter.
 *
 * Answers carry the IETF RateLimit headers (draft-8): `RateLimit-Policy: "<limit>-in-1min"; q=<limit>; w=60` and
 * `RateLimit: "<limit>-in-1min"; r=<remaining>; t=<seconds>`, one item per limiter; over the limit, a
 * `rate_limited` problem with Retry-After.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { GatewayError } from '../errors';

export const RATE_LIMIT_TABLE = 'rate_limits';
const WINDOW_SECONDS = 60;
/** The largest lease: at 2,000 requests a second from one key, two round trips a second. */
const MAX_LEASE = 1000;

export interface Allowance {
  readonly allowed: boolean;
  /** Best estimate of what is left in this window across all instances (exact when leases are one point). */
  readonly remaining: number;
  /** Epoch ms when the window ends. */
  readonly resetAt: number;
}

interface Lease {
  /** Points this instance may still hand out. */
  available: number;
  /** The shared counter right after this instance's last lease. */
  consumedAtLease: number;
  /** The shared counter had reached the limit: nothing more until `resetAt`. */
  spent: boolean;
  resetAt: number;
}

export class SharedRateLimiter {
  readonly lease: number;
  private readonly leases = new Map<string, Lease>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly store: RateLimiterAbstract,
    readonly limit: number,
  ) {
    this.lease = Math.max(1, Math.min(MAX_LEASE, Math.floor(limit / 200)));
  }

  /** One point of `key`'s allowance, without a round trip when this instance holds a lease (undefined: it must ask). */
  tryTake(key: string, now = Date.now()): Allowance | undefined {
    const lease = this.leases.get(key);
    if (!lease) return undefined;
    if (lease.resetAt <= now) {
      this.leases.delete(key);
      return undefined;
    }
    if (lease.available > 0) {
      lease.available -= 1;
      return { allowed: true, remaining: this.remaining(lease), resetAt: lease.resetAt };
    }
    if (lease.spent) return { allowed: false, remaining: 0, resetAt: lease.resetAt };
    return undefined;
  }

  /** One point of `key`'s allowance, leasing from PostgreSQL if needed. */
  async take(key: string): Promise<Allowance> {
    for (;;) {
      const taken = this.tryTake(key);
      if (taken) return taken;
      let pending = this.inFlight.get(key);
      if (!pending) {
        pending = this.renew(key).finally(() => this.inFlight.delete(key));
        this.inFlight.set(key, pending);
      }
      await pending;
    }
  }

  private async renew(key: string): Promise<void> {
    let res: RateLimiterRes;
    try {
      res = await this.store.consume(key, this.lease);
    } catch (e) {
      // Over the limit, the library rejects with the counter's state; anything else is a real failure.
      if (!(e instanceof RateLimiterRes)) throw e;
      res = e;
    }
    const before = res.consumedPoints - this.lease;
    const granted = Math.max(0, Math.min(this.lease, this.limit - before));
    if (this.leases.size > 10_000) this.sweep();
    this.leases.set(key, {
      available: granted,
      consumedAtLease: res.consumedPoints,
      spent: res.consumedPoints >= this.limit,
      // A window always ends: if the store could not say when, in a full window.
      resetAt: Date.now() + (res.msBeforeNext > 0 ? res.msBeforeNext : WINDOW_SECONDS * 1000),
    });
  }

  private remaining(lease: Lease): number {
    return Math.max(0, this.limit - lease.consumedAtLease) + lease.available;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, lease] of this.leases) if (lease.resetAt <= now) this.leases.delete(key);
  }
}

/** A limiter of `limit` points a minute per key, counted in PostgreSQL (`prefix` separates the limiters' keys). */
export function sharedRateLimiter(pool: Pool, prefix: string, limit: number): SharedRateLimiter {
  const store = new RateLimiterPostgres({
    storeClient: pool,
    storeType: 'pool',
    tableName: RATE_LIMIT_TABLE,
    tableCreated: true, // by the migration: the application role creates nothing
    keyPrefix: prefix,
    points: limit,
    duration: WINDOW_SECONDS,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: prefix, points: limit, duration: WINDOW_SECONDS }),
  });
  return new SharedRateLimiter(store, limit);
}

/** Express middleware: one point per request from `keyOf`'s allowance; over the limit, a `rate_limited` problem. */
export function rateLimit(limiter: SharedRateLimiter, keyOf: (req: Request, res: Response) => string, detail: string): RequestHandler {
  const name = `"${limiter.limit}-in-1min"`;
  const policy = `${name}; q=${limiter.limit}; w=${WINDOW_SECONDS}`;
  const answer = (res: Response, next: NextFunction, a: Allowance): void => {
    const seconds = Math.max(1, Math.ceil((a.resetAt - Date.now()) / 1000));
    // Node's own appendHeader: one more line of each header per limiter (Express's res.append does the same, by way of
    // res.get and res.set).
    res.appendHeader('RateLimit-Policy', policy);
    res.appendHeader('RateLimit', `${name}; r=${a.remaining}; t=${seconds}`);
    if (a.allowed) return next();
    next(new GatewayError('rate_limited', `${detail} Try again in ${seconds} seconds.`, { retryAfterSeconds: seconds }));
  };
  return (req, res, next) => {
    const key = keyOf(req, res);
    const now = limiter.tryTake(key);
    if (now) return answer(res, next, now);
    limiter.take(key).then((a) => answer(res, next, a), next);
  };
}
