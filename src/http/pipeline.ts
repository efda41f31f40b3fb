/**
 * A fixed list of middleware run in order, with Express's rules and nothing else: `next()` runs the next handler,
 * `next(err)` skips to the next error handler (a function of four parameters), a handler that throws or whose promise
 * rejects passes its error on. An error no handler answered goes to `onError`; a request nobody answered goes on to
 * `outer` (the rest of the app).
 *
 * Why: the busiest route (POST /v1/decisions) is matched once, at the top of the app, and runs the same handlers the
 * API's routers would run for it, in the same order, without walking every router layer in between (src/http/app.ts).
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';

export type Handler = RequestHandler | ErrorRequestHandler;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export function pipeline(
  handlers: readonly Handler[],
  onError: ErrorRequestHandler,
): (req: Request, res: Response, outer: NextFunction) => void {
  return (req, res, outer) => {
    let i = 0;
    const next = (err?: unknown): void => {
      // As Express: any falsy value is "no error".
      const failed = Boolean(err);
      while (i < handlers.length) {
        const handler = handlers[i++] as Handler;
        const handlesErrors = handler.length === 4;
        if (failed !== handlesErrors) continue;
        try {
          const result: unknown = failed
            ? (handler as ErrorRequestHandler)(err, req, res, next)
            : (handler as RequestHandler)(req, res, next);
          if (isThenable(result)) result.then(undefined, (e: unknown) => next(e || new Error('Rejected promise')));
        } catch (e) {
          next(e || new Error('Handler threw a falsy value'));
        }
        return;
      }
      if (failed) {
        const result: unknown = onError(err, req, res, outer);
        if (isThenable(result)) result.then(undefined, outer);
      } else outer();
    };
    next();
  };
}
