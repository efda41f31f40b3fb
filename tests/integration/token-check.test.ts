/**
 * `npm run -s token:check -- --agency <id> < token.txt`: the real command (compiled, its own node process, token on
 * stdin) against a local issuer serving discovery + JWKS — prints the principal (exit 0) or the exact refusal (exit 1).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkToken } from '../../src/cli/token-check';
import { compileForNode, ROOT } from '../support/compile-for-node';
import { startProviderIssuers, type ProviderIssuers } from '../support/provider-issuer';
import { PROVIDER_CASES, type ProviderCase } from '../support/provider-tokens';

let host: ProviderIssuers;
let dir: string;
let cli: string;
let issuer: string;
const entra = PROVIDER_CASES.find((c) => c.profile === 'entra-v2') as ProviderCase;
const now = (): number => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  host = await startProviderIssuers();
  issuer = await host.add(entra.issuerPath);
  dir = mkdtempSync(path.join(os.tmpdir(), 'sg-token-check-'));
  writeFileSync(path.join(dir, 'agencies.json'), JSON.stringify({ agencies: [{ ...entra.agency, issuer }] }));
  cli = compileForNode('src/cli/token-check.ts', path.join(dir, 'build'));
});
afterAll(async () => {
  await host?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(token: string, ...args: string[]): Promise<{ code: number; out: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, '--agencies', path.join(dir, 'agencies.json'), ...args],
      {
        env: {
          PATH: process.env.PATH,
          NODE_PATH: path.join(ROOT, 'node_modules'),
          DATA_DIR: path.join(dir, 'data'),
          DEV_IDP: 'off',
          ALLOW_INSECURE_ISSUERS: 'on',
        },
      },
      (error, stdout) => {
        resolve({
          code: error ? Number((error as { code?: number }).code ?? 2) : 0,
          out: stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {},
        });
      },
    );
    child.stdin?.end(token);
  });
}

describe('token:check', () => {
  it('prints the principal the gateway would derive (exit 0)', async () => {
    const token = await host.sign(issuer, entra.header, entra.person(issuer, now()));
    const { code, out } = await run(`${token}\n`, '--agency', 'p-entra-v2');
    expect(code).toBe(0);
    expect(out).toMatchObject({
      accepted: true,
      agency: 'p-entra-v2',
      tokenProfile: 'entra-v2',
      role: 'social_worker',
      scopes: ['decisions'],
      practitioner: { subject: entra.expected.person.subject, name: 'Abe Lincoln' },
    });
    expect(JSON.stringify(out)).not.toContain(token.split('.')[1]);
  });

  it('prints the exact refusal (exit 1): an ID token, a wrong audience', async () => {
    const id = entra.idToken(issuer, now());
    const refused = await run(await host.sign(issuer, id.header, id.payload), '--agency', 'p-entra-v2');
    expect(refused.code).toBe(1);
    expect(refused.out).toMatchObject({
      accepted: false,
      status: 401,
      code: 'invalid_token',
      detail: expect.stringMatching(/This is an ID token/),
    });
    const wrong = await run(
      `Bearer ${await host.sign(issuer, entra.header, { ...entra.app(issuer, now()), aud: 'api://someone-else' })}`,
      '--agency',
      'p-entra-v2',
    );
    expect(wrong.out).toMatchObject({ accepted: false, detail: expect.stringMatching(/wrong audience/) });
  });

  it('an agency not in the registry, or no token → exit 2', async () => {
    expect((await run('x.y.z', '--agency', 'nowhere')).code).toBe(2);
    expect((await run('', '--agency', 'p-entra-v2')).code).toBe(2);
  });

  it('checkToken: a token accepted for another agency at the same issuer is reported as such', async () => {
    const second = { ...entra.agency, id: 'p-entra-second', clientIds: ['f00dfeed-0000-4000-8000-000000000001'], issuer };
    const token = await host.sign(issuer, entra.header, entra.app(issuer, now()));
    const result = await checkToken({
      agencyId: 'p-entra-second',
      agencies: [{ ...entra.agency, issuer }, second],
      token,
      audience: 'urn:safeguard-gateway',
      allowInsecureIssuers: true,
    });
    expect(result.exitCode).toBe(1);
    expect(String(result.report.detail)).toMatch(/for "p-entra-v2"/);
  });
});
