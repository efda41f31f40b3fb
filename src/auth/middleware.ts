/**
 * Express 5 middleware around the token verifier: `requireAuth` puts the verified Principal on
 * `res.locals.principal` (read it with `principalOf(res)`); `requireRole` / `requireScope` refuse with 403.
 * Failures go to `next(err)` as GatewayErrors; the problem handler (src/http/problem.ts) answers them.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { GatewayError } from '../errors';
import type { Role } from '../vocabulary/vocabulary';
import type { Principal } from './principal';
import { clientCertificateThumbprint, type ClientCertificateOptions } from './client-certificate';
import { bearerChallenge } from './refusals';
import type { TokenVerifier } from './token-verifier';

export function requireAuth(verifier: TokenVerifier, certificates: ClientCertificateOptions = {}): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const thumbprint = clientCertificateThumbprint(req, certificates);
    const hint = req.headers['x-agency-id'];
    const result = await verifier.verify(req.headers.authorization, {
      ...(thumbprint ? { clientCertThumbprint: thumbprint } : {}),
      ...(typeof hint === 'string' && hint !== '' ? { agencyHint: hint.slice(0, 64) } : {}),
    });
    if (!result.ok) return next(result.error);
    res.locals.principal = result.value;
    next();
  };
}

function isPrincipal(value: unknown): value is Principal {
  return typeof value === 'object' && value !== null && 'agency' in value && 'role' in value && 'scopes' in value;
}

/** The verified caller. Only after `requireAuth`; if it is missing, the request is refused (fail closed). */
export function principalOf(res: Response): Principal {
  const principal: unknown = res.locals.principal;
  if (!isPrincipal(principal)) {
    throw new GatewayError('unauthenticated', 'This needs an access token.', { wwwAuthenticate: bearerChallenge() });
  }
  return principal;
}

/** 403 unless the caller acts in one of these roles. */
export function requireRole(...roles: Role[]): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction): void => {
    let principal: Principal;
    try {
      principal = principalOf(res);
    } catch (e) {
      return next(e);
    }
    if (!roles.includes(principal.role)) {
      const needed = roles.length === 1 ? `the role "${roles[0]}"` : `one of the roles ${roles.map((r) => `"${r}"`).join(', ')}`;
      return next(new GatewayError('forbidden', `This needs ${needed}; you are acting as "${principal.role}".`));
    }
    next();
  };
}

/** 403 (RFC 6750 `insufficient_scope`) unless the token was granted this scope. */
export function requireScope(scope: string): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction): void => {
    let principal: Principal;
    try {
      principal = principalOf(res);
    } catch (e) {
      return next(e);
    }
    if (!principal.scopes.has(scope)) {
      const detail = `Your access token was not granted the scope "${scope}" this needs. Ask your sign-in service for it.`;
      return next(new GatewayError('forbidden', detail, { wwwAuthenticate: bearerChallenge('insufficient_scope', detail, scope) }));
    }
    next();
  };
}
