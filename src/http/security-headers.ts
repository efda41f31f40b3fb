/**
 * The security headers of every answer (helmet's defaults, with a Content-Security-Policy of `default-src 'self';
 * frame-ancestors 'none'`), worked out ONCE: helmet's configuration here has nothing that varies by request (no
 * nonces), so its twelve middlewares are run once against a recorder at start-up and the headers they set are then
 * set on each answer in one loop. helmet stays the one source of what the headers are (tests/unit/security-headers
 * checks that an answer carries exactly what helmet itself gives it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

export const HELMET_OPTIONS: Readonly<HelmetOptions> = {
  contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], frameAncestors: ["'none'"] } },
};

/** What helmet sets and removes for any request, recorded by running it once. */
export function helmetHeaders(options: Readonly<HelmetOptions> = HELMET_OPTIONS): {
  readonly set: ReadonlyArray<readonly [string, string]>;
  readonly removed: readonly string[];
} {
  const set = new Map<string, string>();
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      if (typeof value !== 'string') throw new TypeError(`helmet set ${name} to a non-string value`);
      set.set(name, value);
      return recorder;
    },
    removeHeader(name: string) {
      set.delete(name);
      removed.push(name);
    },
  };
  let finished = false;
  const request = { method: 'GET', url: '/', headers: {} };
  helmet(options)(request as unknown as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err !== undefined) throw err instanceof Error ? err : new Error('helmet refused its configuration');
    finished = true;
  });
  // Every helmet middleware is synchronous; if one ever is not, recording would be wrong: refuse to start.
  if (!finished) throw new Error('helmet did not finish synchronously: its headers cannot be worked out once');
  return { set: [...set], removed };
}

export function securityHeaders(options: Readonly<HelmetOptions> = HELMET_OPTIONS): RequestHandler {
  const { set, removed } = helmetHeaders(options);
  return (_req, res, next) => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}
