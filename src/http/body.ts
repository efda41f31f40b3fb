/**
 * Reading a JSON request body, refusing every body that could mean something other than what it says:
 *
 *   Content-Encoding  identity, gzip, deflate or br; any other (or a list of several) → 415; a body that does not
 *                     decompress (bad gzip, bad brotli) → 400. The size cap applies to the decompressed body (413).
 *   charset           UTF-8 only (absent means UTF-8): `charset=utf-16` or any other → 415.
 *   syntax            strict JSON (body-parser, `strict`): not JSON → 400.
 *   duplicate keys    `{"from":…,"from":…}` means two things (JSON.parse keeps the last): 400 naming the key and
 *                     where it is. Found with jsonc-parser's scanner over the raw text (escapes decoded, so
 *                     `"from"` and `"\u0066rom"` are the same key). The scanner runs only when a body may have
 *                     one: every member of valid JSON has exactly one `:` outside strings, so a body whose parsed
 *                     objects hold as many members as it has such colons has no duplicate (a byte count, no tokens).
 *   depth             deeper than MAX_JSON_DEPTH levels → 400, before any recursive code sees it.
 */
import type { IncomingMessage } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { visit, type JSONPath } from 'jsonc-parser';
import { GatewayError } from '../errors';

export const ACCEPTED_CONTENT_ENCODINGS = ['identity', 'gzip', 'deflate', 'br'] as const;
export const MAX_JSON_DEPTH = 16;

const RAW_BODY = Symbol('raw JSON body');
type WithRawBody = Request & { [RAW_BODY]?: Buffer };

function pointerOf(path: JSONPath, key: string): string {
  const escape = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');
  return `/${[...path.map(String), key].map(escape).join('/')}`;
}

/** The first key that appears twice in one object, with its JSON Pointer; undefined if none. */
export function firstDuplicateKey(text: string): { key: string; pointer: string } | undefined {
  const open: Array<Set<string>> = [];
  let found: { key: string; pointer: string } | undefined;
  visit(
    text,
    {
      onObjectBegin: () => void open.push(new Set()),
      onObjectEnd: () => void open.pop(),
      onObjectProperty: (property, _offset, _length, _line, _column, pathSupplier) => {
        const keys = open[open.length - 1];
        if (!keys || found) return;
        if (keys.has(property)) found = { key: property, pointer: pointerOf(pathSupplier(), property) };
        keys.add(property);
      },
    },
    { disallowComments: true, allowTrailingComma: false },
  );
  return found;
}

/**
 * How deep the parsed body nests (stopping at `max`) and how many object members it holds. Iterative (no recursion,
 * so no stack overflow on hostile input).
 */
function shapeOf(value: unknown, max: number): { readonly tooDeep: boolean; readonly members: number } {
  const stack: Array<[unknown, number]> = [[value, 0]];
  let members = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return { tooDeep: true, members };
    const children = Object.values(v as Record<string, unknown>);
    if (!Array.isArray(v)) members += children.length;
    for (const child of children) stack.push([child, depth + 1]);
  }
  return { tooDeep: false, members };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * The `:` bytes outside strings of a JSON text in UTF-8: in valid JSON, one per object member as written. (Quote,
 * backslash and colon are ASCII, and never part of a multi-byte UTF-8 sequence.)
 */
export function membersWritten(raw: Buffer): number {
  let count = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === COLON) count++;
  }
  return count;
}

/** Printable form of what the caller sent in a header: control characters escaped, at most 60 characters. */
function shownHeader(value: string): string {
  return JSON.stringify(value.slice(0, 60)).slice(1, -1);
}

function checkEncodingAndCharset(req: Request, _res: Response, next: NextFunction): void {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (!(ACCEPTED_CONTENT_ENCODINGS as readonly string[]).includes(encoding)) {
    return next(
      new GatewayError(
        'unsupported_media_type',
        `The request body is encoded as "${shownHeader(encoding)}", which the gateway does not accept. Accepted Content-Encoding: ${ACCEPTED_CONTENT_ENCODINGS.join(', ')} (one of them, not a list).`,
        { errors: [{ pointer: '/headers/content-encoding', detail: `"${shownHeader(encoding)}" is not accepted` }] },
      ),
    );
  }
  const type = req.headers['content-type'];
  if (type !== undefined) {
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(type)?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      return next(
        new GatewayError(
          'unsupported_media_type',
          `The request body must be UTF-8 JSON; this one says charset=${shownHeader(charset)}. Send it as UTF-8 (or leave the charset out).`,
          {
            errors: [{ pointer: '/headers/content-type', detail: `charset "${shownHeader(charset)}" is not accepted; only UTF-8` }],
          },
        ),
      );
    }
  }
  next();
}

/** body-parser's errors as problems: a bad compressed body is the caller's (400), never a 500. */
function bodyParserErrors(err: unknown, _req: Request, _res: Response, next: NextFunction): void {
  if (err instanceof GatewayError || typeof err !== 'object' || err === null) return next(err);
  const { type, status } = err as { type?: unknown; status?: unknown };
  switch (type) {
    case 'entity.too.large':
      return next(new GatewayError('payload_too_large', 'The request body is larger than the gateway accepts.'));
    case 'entity.parse.failed':
      return next(new GatewayError('bad_request', 'The request body is not valid JSON.'));
    case 'encoding.unsupported':
      return next(
        new GatewayError(
          'unsupported_media_type',
          `The request body's Content-Encoding is not accepted. Accepted: ${ACCEPTED_CONTENT_ENCODINGS.join(', ')}.`,
        ),
      );
    case 'charset.unsupported':
      return next(new GatewayError('unsupported_media_type', 'The request body must be UTF-8 JSON.'));
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Includes a body that does not decompress (zlib: incorrect header check, unexpected end of file).
    const encoding = (_req.headers['content-encoding'] ?? 'identity').toLowerCase();
    return next(
      new GatewayError(
        'bad_request',
        encoding === 'identity'
          ? 'The request body could not be read.'
          : `The request body could not be read: it is not valid ${shownHeader(encoding)} data.`,
      ),
    );
  }
  next(err);
}

function checkDuplicatesAndDepth(req: Request, _res: Response, next: NextFunction): void {
  const raw = (req as WithRawBody)[RAW_BODY];
  delete (req as WithRawBody)[RAW_BODY];
  // Depth first: the scanner below recurses once per level.
  const shape = shapeOf(req.body, MAX_JSON_DEPTH);
  if (shape.tooDeep) return next(new GatewayError('bad_request', `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`));
  // Fewer members parsed than written: JSON.parse kept only the last of a repeated key. Find which, and where.
  if (raw !== undefined && raw.length > 0 && membersWritten(raw) !== shape.members) {
    const duplicate = firstDuplicateKey(raw.toString('utf8'));
    if (!duplicate) return next(new GatewayError('bad_request', 'The request body gives a member twice: send each member once.'));
    const shown = JSON.stringify(duplicate.key.slice(0, 100));
    return next(
      new GatewayError(
        'bad_request',
        `The request body gives ${shown} twice at ${duplicate.pointer.slice(0, 200)}: a body that could mean two things is refused. Send each member once.`,
        {
          errors: [
            { pointer: duplicate.pointer.slice(0, 200), detail: `${shown} appears more than once`, word: duplicate.key.slice(0, 100) },
          ],
        },
      ),
    );
  }
  next();
}

/**
 * Whether a request's Content-Type is one of `types` (type-is, as `req.is`). `application/json` as nearly every
 * client writes it (alone, or with `; charset=utf-8`) is taken as it is, without parsing the header: the answer is
 * the same, and `jsonOnly` and the body reader each ask once per request.
 */
export function jsonTypeChecker(types: readonly string[]): (req: IncomingMessage) => boolean {
  const list = [...types];
  const plain = list.includes('application/json');
  return (req) => {
    const type = req.headers['content-type'];
    if (plain && (type === 'application/json' || type === 'application/json; charset=utf-8')) return true;
    // Only ever called inside the app (jsonOnly, body-parser's `type`): Express has given the request its prototype.
    return typeof (req as Request).is(list) === 'string';
  };
}

/** The JSON body reader of the API: use in place of express.json(). */
export function jsonBody(options: {
  readonly limitBytes: number;
  readonly types: readonly string[];
}): Array<RequestHandler | express.ErrorRequestHandler> {
  return [
    checkEncodingAndCharset,
    express.json({
      limit: options.limitBytes,
      strict: true,
      type: jsonTypeChecker(options.types),
      verify: (req, _res, buf) => {
        (req as WithRawBody)[RAW_BODY] = buf;
      },
    }),
    bodyParserErrors,
    checkDuplicatesAndDepth,
  ];
}
