/**
 * The fixed middleware list of src/http/pipeline.ts keeps Express's rules: handlers in order, an error skips to the
 * next error handler, a thrown error or a rejected promise is an error, an unanswered request goes on.
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { pipeline, type Handler } from '../../src/http/pipeline';

const req = {} as Request;
/** An ordinary handler, typed (a list of both kinds cannot type its lambdas). */
const ordinary = (fn: RequestHandler): RequestHandler => fn;
const res = {} as Response;

/** Runs the list and resolves with what reached the end: the error handler's error, or "outer". */
function run(handlers: Handler[]): Promise<{ outer?: unknown; handled?: unknown }> {
  return new Promise((resolve) => {
    const onError: ErrorRequestHandler = (err) => resolve({ handled: err });
    const outer: NextFunction = (err?: unknown) => resolve({ outer: err ?? 'next' });
    pipeline(handlers, onError)(req, res, outer);
  });
}

describe('pipeline', () => {
  it('runs the handlers in order and goes on when none answered', async () => {
    const seen: string[] = [];
    const step =
      (name: string): RequestHandler =>
      (_q, _s, next) => {
        seen.push(name);
        next();
      };
    await expect(run([step('a'), step('b'), step('c')])).resolves.toEqual({ outer: 'next' });
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('stops when a handler answers (does not call next)', async () => {
    const seen: string[] = [];
    let answered!: () => void;
    const done = new Promise<void>((r) => (answered = r));
    const handlers: Handler[] = [
      ordinary((_q, _s, next) => next()),
      ordinary(() => {
        seen.push('answer');
        answered();
      }),
      ordinary(() => void seen.push('never')),
    ];
    pipeline(handlers, () => void seen.push('error'))(req, res, () => seen.push('outer'));
    await done;
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['answer']);
  });

  it('on next(err) skips ordinary handlers to the next error handler, which may recover', async () => {
    const seen: string[] = [];
    const boom = new Error('boom');
    const handlers: Handler[] = [
      ordinary((_q, _s, next) => next(boom)),
      ordinary((_q, _s, next) => {
        seen.push('skipped');
        next();
      }),
      ((err: unknown, _q: Request, _s: Response, next: NextFunction) => {
        seen.push(`recovered ${(err as Error).message}`);
        next();
      }) as ErrorRequestHandler,
      ordinary((_q, _s, next) => {
        seen.push('after');
        next();
      }),
    ];
    await expect(run(handlers)).resolves.toEqual({ outer: 'next' });
    expect(seen).toEqual(['recovered boom', 'after']);
  });

  it('an error no handler in the list answers goes to onError; error handlers are not run without an error', async () => {
    const seen: string[] = [];
    const handlers: Handler[] = [
      ((_e: unknown, _q: Request, _s: Response, next: NextFunction) => {
        seen.push('error handler without an error');
        next();
      }) as ErrorRequestHandler,
      ordinary(() => {
        throw new Error('thrown');
      }),
      ordinary((_q, _s, next) => {
        seen.push('skipped');
        next();
      }),
    ];
    const end = await run(handlers);
    expect((end.handled as Error).message).toBe('thrown');
    expect(seen).toEqual([]);
  });

  it("a handler's rejected promise is an error (as Express 5), and a falsy rejection still is one", async () => {
    const rejects: RequestHandler = async () => {
      await Promise.resolve();
      throw new Error('async');
    };
    expect(((await run([rejects])).handled as Error).message).toBe('async');
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    const rejectsFalsy: RequestHandler = () => Promise.reject(undefined);
    expect((await run([rejectsFalsy])).handled).toBeInstanceOf(Error);
  });
});
