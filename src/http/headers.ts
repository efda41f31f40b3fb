/**
 * Header checks before authentication. Node keeps the FIRST of several `Authorization` headers and drops the rest
 * silently; a request that carries two credentials means two things, so it is refused (400), never guessed.
 */
import type { NextFunction, Request, Response } from 'express';
import { GatewayError } from '../errors';

export function oneAuthorizationHeader(req: Request, _res: Response, next: NextFunction): void {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'authorization') count += 1;
  if (count > 1) {
    return next(
      new GatewayError(
        'bad_request',
        `The request carries ${count} Authorization headers; send exactly one (Authorization: Bearer <access token>).`,
        {
          errors: [{ pointer: '/headers/authorization', detail: `${count} Authorization headers; exactly one is allowed` }],
        },
      ),
    );
  }
  next();
}
