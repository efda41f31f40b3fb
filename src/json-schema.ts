/**
 * The JSON Schema compilers (ajv), shared by every module that validates. Each `new Ajv` compiles the JSON Schema
 * meta-schema before its first schema (tens of milliseconds), so nine private instances cost about a third of the
 * gateway's start-up; three shared ones, each made on first use, cost one each.
 *
 *   strict   — every request body, file and registry check: all errors, strict mode, union types, formats.
 *   coercing — query strings (they arrive as text): numbers are coerced, nothing else.
 *   verbose  — the policy catalogue's checks, whose messages quote the offending schema and value.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

export type SchemaCompiler = 'strict' | 'coercing' | 'verbose';

const instances = new Map<SchemaCompiler, Ajv>();

export function schemaCompiler(kind: SchemaCompiler = 'strict'): Ajv {
  let ajv = instances.get(kind);
  if (!ajv) {
    ajv = new Ajv({
      allErrors: true,
      strict: true,
      validateSchema: false,
      ...(kind === 'coercing' ? { coerceTypes: true } : { allowUnionTypes: true }),
      ...(kind === 'verbose' ? { verbose: true } : {}),
    });
    addFormats(ajv);
    instances.set(kind, ajv);
  }
  return ajv;
}
