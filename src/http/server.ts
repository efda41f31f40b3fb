/**
 * The HTTP server around the Express app. Requests Node's parser refuses before Express sees them (a malformed
 * request line or header, headers larger than `maxHeaderSize`: 50 Authorization headers, a 100 KB token) are
 * answered here, by the `clientError` handler, as RFC 9457 problem+json — not Node's bare `400`/`431` — and passed
 * to `onRefused` (the anonymous-refusal summary: nobody is authenticated at this point).
 */
import { randomUUID } from 'node:crypto';
import http, { type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import { expressClasses } from './express-classes';
import { GatewayError, type ErrorCode } from '../errors';
import { PROBLEM_CONTENT_TYPE, problemBody } from './problem';

export interface ServerLogger {
  warn(obj: object, msg: string): void;
}

export interface ServerOptions {
  readonly logger?: ServerLogger;
  /** A request refused before it reached the app: its source address and problem code. */
  readonly onRefused?: (source: string, code: ErrorCode) => void;
}

/** Which problem a parser error is (llhttp error codes, Node's own). */
function problemFor(err: NodeJS.ErrnoException): GatewayError | undefined {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError(
        'headers_too_large',
        'The request headers are larger than the gateway accepts (too many, or one too long — an access token is a few kilobytes at most).',
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ECONNRESET':
      return undefined; // nothing to answer: the connection is gone or too slow
    default:
      return new GatewayError('bad_request', 'The request could not be read as HTTP/1.1 (a malformed request line or header).');
  }
}

function clientErrorHandler(options: ServerOptions) {
  return (err: NodeJS.ErrnoException, socket: Duplex & { remoteAddress?: string }): void => {
    const error = problemFor(err);
    if (!error || !socket.writable) {
      socket.destroy();
      return;
    }
    const source = socket.remoteAddress ?? 'unknown';
    options.logger?.warn({ code: err.code, source }, 'request refused by the HTTP parser');
    options.onRefused?.(source, error.code);
    const requestId = randomUUID();
    const body = JSON.stringify(problemBody(error, requestId));
    socket.end(
      `HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status] ?? 'Error'}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}

/** Answers what Node's parser refuses as problem+json, on any HTTP or HTTPS server (the mutual-TLS listener too). */
export function answerClientErrors<S extends Server>(server: S, options: ServerOptions = {}): S {
  server.on('clientError', clientErrorHandler(options));
  return server;
}

/** An HTTP server for `app` (an Express app: ./express-classes.ts) with the clientError handler; not yet listening. */
export function createServer(app: Express, options: ServerOptions = {}): Server {
  return answerClientErrors(http.createServer(expressClasses(app), app), options);
}

/** createServer + listen; resolves once it listens. */
export function listen(app: Express, port: number, host: string, options: ServerOptions = {}): Promise<Server> {
  const server = createServer(app, options);
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
