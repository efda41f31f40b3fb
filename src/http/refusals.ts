/**
 * Recording a refusal of a /v1 request before the refusal is sent. An authenticated caller's refusal is one ledger
 * entry (`request_refused`: who, which route, which problem code and input pointers — no values). An unidentified
 * caller's refusal is counted per source address, problem and window (src/audit/anonymous-refusals.ts) and reaches
 * the ledger as one summary entry per window: no token, no row per request.
 */
import type { Request, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { GatewayError } from '../errors';
import type { AuditLedger } from '../audit/entry';
import type { AnonymousRefusals } from '../audit/anonymous-refusals';
import { actorOf } from '../audit/actor';
import type { Principal } from '../auth/principal';
import { printable } from '../db/text';
import { pseudonymisedPath, type Pseudonymiser } from '../audit/pseudonym';

/** The address a refusal is counted under: IPv6 by its /56, as the per-address rate limit counts it. */
export function sourceOf(ip: string | undefined): string {
  return ip ? ipKeyGenerator(ip) : 'unknown';
}

/** Resolves once the refusal is recorded (committed); rejects if it cannot be. */
export async function recordRefusal(
  deps: { readonly ledger: AuditLedger; readonly refusals: AnonymousRefusals; readonly pseudonymise?: Pseudonymiser },
  req: Request,
  res: Response,
  error: GatewayError,
): Promise<void> {
  const principal = res.locals.principal as Principal | undefined;
  // Unidentified: no principal and not a 403 (a 403 without a principal is a token a trusted issuer signed, with a
  // role its agency may not use: an identified caller, recorded one entry each).
  if (!principal && error.status !== 403) {
    await deps.refusals.record(sourceOf(req.ip), error.code, error.status);
    return;
  }
  // Identifiers in the path (a person id, a record id) are kept only as pseudonyms: the shape of the route stays.
  const where = pseudonymisedPath(req.originalUrl.split('?')[0] ?? '', deps.pseudonymise);
  await deps.ledger.append({
    kind: 'request_refused',
    outcome: error.code,
    requestId: String(res.locals.requestId),
    actor: principal ? actorOf(principal) : null,
    payload: {
      method: req.method,
      path: where.path,
      ...(where.ids.length > 0 ? { pathIds: where.ids } : {}),
      status: error.status,
      // printable: a word with a NUL in it is recorded escaped (PostgreSQL cannot store NUL), never lost.
      problems: (error.extras.errors ?? [])
        .slice(0, 20)
        .map((p) => ({ pointer: printable(p.pointer.slice(0, 100)), word: p.word === undefined ? null : printable(p.word.slice(0, 60)) })),
    },
  });
}
