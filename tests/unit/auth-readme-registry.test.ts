/**
 * The registry examples in README.md "Connecting your agency's identity provider" are real: each JSON block there
 * passes the trust-registry checks (the same ones start-up applies).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAgencyRegistry } from '../../src/auth/registry';

const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
const section = readme.slice(
  readme.indexOf("## Connecting your agency's identity provider"),
  readme.indexOf('\n## ', readme.indexOf("## Connecting your agency's identity provider") + 5),
);
const blocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

describe('README registry examples', () => {
  it('there is one per provider', () => {
    const profiles = blocks.map((b) => (JSON.parse(b) as { tokenProfile?: string }).tokenProfile ?? 'rfc9068');
    expect(profiles.sort()).toEqual(['auth0', 'entra-v1', 'entra-v2', 'hmpps', 'introspection', 'keycloak', 'okta', 'rfc9068']);
  });
  it.each(blocks.map((b, i) => [i, b] as const))('example %i is a valid registry entry', (_i, block) => {
    expect(() => parseAgencyRegistry({ agencies: [JSON.parse(block) as unknown] }, 'README.md')).not.toThrow();
  });
});
