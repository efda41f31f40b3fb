/**
 * The pages' session: server-side (express-session), kept in PostgreSQL by the gateway (`postgresSessionStore`,
 * connect-pg-simple, table `web_sessions`) so a practitioner signed in at one instance continues at any other and
 * a restart signs nobody out; without a store, in memory (tests of the pages alone). An HttpOnly,
 * SameSite=Lax cookie that is Secure when the gateway is served over TLS, and a synchroniser CSRF token
 * (csrf-sync) checked on every POST.
 *
 * The session never holds a Principal: it holds the access token the practitioner's own agency issued, and every
 * request verifies it again with the API's TokenVerifier — one trust path, and an expired or no-longer-trusted
 * token signs the practitioner out.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session, { type Store } from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import type { Pool } from 'pg';
import { csrfSync } from 'csrf-sync';
import type { Principal } from '../auth/principal';
import type { TokenVerifier } from '../auth/token-verifier';
import type { AgencyType, Facts, Field, Purpose, Role, SubjectRole } from '../vocabulary/vocabulary';
import type { DecisionAnswer } from '../decisions/answer';

/** The answers given so far in "Can I share this?". */
export interface Journey {
  toAgencyType?: AgencyType;
  toRole?: Role;
  purpose?: Purpose;
  subjectRole?: SubjectRole;
  /** The practitioner's own case reference: only its keyed pseudonym reaches the ledger. */
  subjectRef?: string;
  fields?: Field[];
  facts?: Facts;
  factsAnswered?: boolean;
}

export interface StoredAnswer {
  readonly answer: DecisionAnswer;
  readonly entryId: string;
  readonly seq: number;
  readonly entryHash: string;
  readonly recordedAt: string;
  readonly asked: {
    readonly toAgencyType: AgencyType;
    readonly toRole: Role;
    readonly purpose: Purpose;
    readonly subjectRole: SubjectRole;
    readonly fields: readonly Field[];
    readonly facts?: Facts;
  };
}

declare module 'express-session' {
  interface SessionData {
    /** Between "Continue" on the organisation page and the agency's callback. */
    login?: { agencyId: string; state: string; nonce: string; codeVerifier: string; returnTo: string };
    /** After sign-in: the access token from the practitioner's own agency, verified again on every request. */
    auth?: { agencyId: string; agencyName: string; accessToken: string; name?: string };
    returnTo?: string;
    journey?: Journey;
    answer?: StoredAnswer;
    notice?: string;
  }
}

export interface SessionOptions {
  /** Signs the session cookie; at least 32 characters. A list rotates keys (the first signs). */
  readonly secret: string | readonly string[];
  /** Secure cookie: true whenever the gateway is reached over TLS. */
  readonly secureCookie: boolean;
  /** Idle timeout in minutes (default 30). */
  readonly idleMinutes?: number;
  /** A shared session store; absent → the in-memory store (development and tests). */
  readonly store?: Store;
}

export const SESSION_COOKIE = 'sg_session';

/** The shared session store: connect-pg-simple on the application pool (the migration made the table). */
export function postgresSessionStore(pool: Pool, onError: (message: string) => void): Store & { close(): void } {
  const PgStore = connectPgSimple(session);
  const store = new PgStore({
    pool,
    tableName: 'web_sessions',
    createTableIfMissing: false,
    // Expired sessions are deleted every 15 minutes by each instance (idempotent: a DELETE by expiry).
    pruneSessionInterval: 15 * 60,
    errorLog: (...args: unknown[]) => onError(args.map(String).join(' ')),
  });
  return store;
}

export function sessionMiddleware(options: SessionOptions): RequestHandler {
  const secrets = typeof options.secret === 'string' ? [options.secret] : [...options.secret];
  if (secrets.length === 0 || secrets.some((s) => s.length < 32)) throw new Error('the web session secret must be at least 32 characters');
  return session({
    name: SESSION_COOKIE,
    secret: secrets,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    unset: 'destroy',
    ...(options.store ? { store: options.store } : {}),
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: options.secureCookie,
      path: '/',
      maxAge: (options.idleMinutes ?? 30) * 60_000,
    },
  });
}

/**
 * A redirect waits until a changed session is stored. express-session saves a changed session when the answer ends,
 * but it sends the headers first and holds back only the last byte of the body while the store writes: a browser
 * follows a 303 as soon as it has the headers, so with a store that takes a round trip (PostgreSQL) the next page
 * could load the session as it was before the answer just given ("Continue" staying on the same page). Only a
 * session changed since it was loaded is saved here — what express-session itself would have saved.
 */
export function saveSessionBeforeRedirect(req: Request, res: Response, next: NextFunction): void {
  const loaded = req.session ? JSON.stringify(req.session) : undefined;
  const redirect = res.redirect.bind(res) as (...args: unknown[]) => void;
  res.redirect = ((...args: unknown[]): void => {
    const current = req.session as typeof req.session | null | undefined;
    if (!current || JSON.stringify(current) === loaded) return redirect(...args);
    current.save((err) => (err ? next(err) : redirect(...args)));
  }) as Response['redirect'];
  next();
}

export const csrf = csrfSync({
  getTokenFromRequest: (req: Request) => {
    const body: unknown = req.body;
    if (typeof body === 'object' && body !== null) {
      const token = (body as Record<string, unknown>)._csrf;
      if (typeof token === 'string') return token;
    }
    return undefined;
  },
  errorConfig: { statusCode: 403, message: 'invalid csrf token', code: 'EBADCSRFTOKEN' },
});

/** Makes the form token available to every view (created on first use, kept for the session). */
export function exposeCsrfToken(req: Request, res: Response, next: NextFunction): void {
  res.locals.csrfToken = csrf.generateToken(req, false);
  next();
}

export function isCsrfError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'EBADCSRFTOKEN';
}

/** The signed-in practitioner, or undefined. */
export function webPrincipal(res: Response): Principal | undefined {
  return res.locals.webPrincipal as Principal | undefined;
}

/**
 * Verifies the session's access token on every request with the API's verifier. Anything but a valid Principal
 * signs the session out (the token expired, the agency is no longer trusted, the key rotated away).
 */
export function loadPrincipal(verifier: TokenVerifier): RequestHandler {
  return async (req, res, next) => {
    const auth = req.session?.auth;
    if (!auth) return next();
    const principal = await verifyAccessToken(verifier, auth.accessToken);
    if (principal && principal.agency.id === auth.agencyId) {
      res.locals.webPrincipal = principal;
      // The request log names the agency, as for the API.
      res.locals.principal = principal;
    } else {
      delete req.session.auth;
      req.session.notice = 'You have been signed out. Sign in again to continue.';
    }
    next();
  };
}

/** The one place the pages call the token verifier: the same verifier, the same checks as `Authorization: Bearer`. */
export async function verifyAccessToken(verifier: TokenVerifier, accessToken: string): Promise<Principal | undefined> {
  try {
    const result = await verifier.verify(`Bearer ${accessToken}`, {});
    return result.ok ? result.value : undefined;
  } catch {
    return undefined;
  }
}
