/**
 * The shared schema compilers skip ajv's meta-schema pass (it cost a third of the start-up): strict mode and ajv's
 * own keyword checks must still refuse a malformed schema at compile time, and each kind is made once.
 */
import { schemaCompiler } from '../../src/json-schema';

describe('shared schema compilers', () => {
  it.each(['strict', 'coercing', 'verbose'] as const)('%s refuses malformed schemas when they are compiled', (kind) => {
    const ajv = schemaCompiler(kind);
    expect(() => ajv.compile({ type: 'object', propertiess: {} })).toThrow(/unknown keyword/);
    expect(() => ajv.compile({ type: 'strng' })).toThrow(/type must be JSONType/);
    expect(() => ajv.compile({ type: 'string', minLength: 'x' })).toThrow(/minLength value must be/);
    expect(() => ajv.compile({ type: 'string', format: 'no-such-format' })).toThrow(/unknown format/);
  });

  it('makes each kind once, and only the coercing one coerces query text', () => {
    expect(schemaCompiler('strict')).toBe(schemaCompiler());
    const schema = { type: 'object', properties: { limit: { type: 'integer' } } };
    const query = { limit: '5' };
    expect(schemaCompiler('coercing').compile(schema)(query)).toBe(true);
    expect(query.limit).toBe(5);
    expect(schemaCompiler('strict').compile({ ...schema })({ limit: '5' })).toBe(false);
  });
});
