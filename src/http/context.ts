/** Per-request context shared by the routes. */
import type { Response } from 'express';

export function requestIdOf(res: Response): string {
  const id: unknown = res.locals.requestId;
  if (typeof id !== 'string') throw new Error('request id middleware did not run');
  return id;
}
