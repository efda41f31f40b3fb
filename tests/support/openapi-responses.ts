/**
 * Validates real responses against the OpenAPI document (`/openapi.json`, built by src/http/openapi.ts), with ajv
 * (JSON Schema 2020-12, as OpenAPI 3.1 uses). Hooked into the test harness (tests/support/gateway-harness.ts): every
 * response any HTTP test provokes is checked, and the harness's close() fails the test file if one did not match.
 *
 *   - a 2xx answer must be documented for its path, method and status, and its body must match the schema;
 *   - an error answer must be application/problem+json matching the Problem schema (every refusal is one);
 *   - 404s for paths the document does not describe are only checked for the problem shape.
 */
import type { NextFunction, Request, Response } from 'express';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { openApiDocument } from '../../src/http/openapi';

export interface ObservedResponse {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

type Operation = { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> };

export interface ResponseValidator {
  /** Problems with one response (empty: it matches the document). */
  check(r: ObservedResponse): string[];
  /** "METHOD template status" of every documented response seen so far (coverage). */
  readonly seen: Set<string>;
}

const pointer = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

export function responseValidator(doc: Record<string, unknown> = openApiDocument()): ResponseValidator {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: 'openapi' });
  const compiled = new Map<string, ValidateFunction>();
  const schemaAt = (ref: string): ValidateFunction => {
    let v = compiled.get(ref);
    if (!v) {
      v = ajv.compile({ $ref: `openapi#/${ref}` });
      compiled.set(ref, v);
    }
    return v;
  };
  const paths = doc.paths as Record<string, Record<string, Operation>>;
  const templates = Object.keys(paths)
    .map((t) => ({
      template: t,
      params: (t.match(/\{/g) ?? []).length,
      pattern: new RegExp(
        `^${t
          .split(/\{[^}]+\}/)
          .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^/]+')}/?$`,
        // As Express matches routes (not strict, not case-sensitive): `/v1/decisions/` is the documented path too.
        'i',
      ),
    }))
    .sort((a, b) => a.params - b.params);
  const seen = new Set<string>();

  return {
    seen,
    check(r) {
      const problems: string[] = [];
      const what = `${r.method} ${r.path} → ${r.status}`;
      const mediaType = r.contentType.split(';')[0]?.trim() ?? '';
      let body: unknown;
      if (/json/.test(mediaType)) {
        try {
          body = JSON.parse(r.body);
        } catch {
          return [`${what}: ${mediaType} body is not JSON`];
        }
      }
      if (r.status >= 400) {
        if (r.status === 405 && mediaType === '') return problems;
        if (mediaType !== 'application/problem+json')
          return [`${what}: an error answer must be application/problem+json, was "${r.contentType}"`];
        const v = schemaAt(pointer('components', 'schemas', 'Problem'));
        if (!v(body)) problems.push(`${what}: problem body does not match Problem: ${ajv.errorsText(v.errors)}`);
        return problems;
      }
      if (r.method === 'HEAD' || r.status === 304) return problems;
      const found = templates.find((t) => t.pattern.test(r.path));
      if (!found) return [`${what}: the path is not in the OpenAPI document`];
      const method = r.method.toLowerCase();
      const op = paths[found.template]?.[method];
      if (!op) return [`${what}: ${r.method} is not documented for ${found.template}`];
      const response = op.responses?.[String(r.status)];
      if (!response) return [`${what}: status ${r.status} is not documented for ${r.method} ${found.template}`];
      seen.add(`${r.method} ${found.template} ${r.status}`);
      if (r.status === 204) return r.body.length === 0 ? problems : [`${what}: a 204 must have no body`];
      const content = response.content;
      if (!content) return [`${what}: the document declares no body for ${r.method} ${found.template} ${r.status}`];
      if (!content[mediaType])
        return [`${what}: content type ${mediaType || '(none)'} is not documented (documented: ${Object.keys(content).join(', ')})`];
      if (body === undefined) return problems;
      const v = schemaAt(pointer('paths', found.template, method, 'responses', String(r.status), 'content', mediaType, 'schema'));
      if (!v(body)) problems.push(`${what}: body does not match the document: ${ajv.errorsText(v.errors, { dataVar: 'body' })}`);
      return problems;
    },
  };
}

/**
 * Express middleware in front of an app: captures each response's status, type and body, and collects the
 * validator's problems into `problems`.
 */
export function recordResponses(validator: ResponseValidator, problems: string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const chunks: Buffer[] = [];
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    const keep = (chunk: unknown, encoding?: unknown): void => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      chunks.push(
        Buffer.isBuffer(chunk)
          ? chunk
          : typeof chunk === 'string'
            ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
            : Buffer.from(chunk as Uint8Array),
      );
    };
    (res as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
      keep(args[0], args[1]);
      return write(...args);
    };
    (res as unknown as { end: (...args: unknown[]) => Response }).end = (...args: unknown[]) => {
      keep(args[0], args[1]);
      return end(...args);
    };
    res.on('finish', () => {
      const path = req.originalUrl.split('?')[0] ?? '';
      problems.push(
        ...validator.check({
          method: req.method,
          path,
          status: res.statusCode,
          contentType: String(res.getHeader('content-type') ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    next();
  };
}
