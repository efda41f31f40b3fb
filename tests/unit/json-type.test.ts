/**
 * jsonTypeChecker (src/http/body.ts): `application/json` as clients write it is taken without parsing the header;
 * every other Content-Type is asked of type-is (Express's `req.is`), as before.
 */
import type { IncomingMessage } from 'node:http';
import { jsonTypeChecker } from '../../src/http/body';

function request(contentType: string | undefined, is: (types: string[]) => string | false | null): IncomingMessage {
  return { headers: contentType === undefined ? {} : { 'content-type': contentType }, is } as unknown as IncomingMessage;
}

describe('jsonTypeChecker', () => {
  const types = ['application/json', 'application/*+json'];
  const isJson = jsonTypeChecker(types);

  it('takes the usual spellings of application/json without asking type-is', () => {
    const is = jest.fn(() => false as const);
    expect(isJson(request('application/json', is))).toBe(true);
    expect(isJson(request('application/json; charset=utf-8', is))).toBe(true);
    expect(is).not.toHaveBeenCalled();
  });

  it('asks type-is about every other media type, with the accepted types', () => {
    const is = jest.fn((list: string[]) => (list.includes('application/*+json') ? 'application/problem+json' : false));
    expect(isJson(request('application/problem+json', is))).toBe(true);
    expect(is).toHaveBeenCalledWith(types);
    expect(isJson(request('text/plain', () => false))).toBe(false);
    expect(isJson(request('APPLICATION/JSON', () => 'application/json'))).toBe(true);
    expect(isJson(request(undefined, () => null))).toBe(false);
  });

  it('does not take application/json unless it is one of the accepted types', () => {
    const only = jsonTypeChecker(['application/*+json']);
    expect(only(request('application/json', () => false))).toBe(false);
  });
});
