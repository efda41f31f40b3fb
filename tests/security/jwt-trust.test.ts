/**
 * Where the token verifier's trust comes from: a trusted issuer that is down (503 not_ready, reported, recovered
 * from), every trusted issuer ready; start-up refusing an unsafe configuration; the trust registry file refusing
 * unknown words, shared client ids, unknown properties and missing fields, naming what is wrong. Real issuers over
 * real HTTP; nothing is mocked.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/token-verifier';
import { AgencyRegistryError, loadAgencyRegistry } from '../../src/auth/registry';
import type { TestIssuers } from '../support/token-factory';
import { bearer, useTrustedIssuers } from '../support/jwt-verifier';

const trust = useTrustedIssuers();
let issuers: TestIssuers;
let verifier: TokenVerifier;
beforeAll(() => {
  ({ issuers, verifier } = trust);
});

describe('an issuer that is down', () => {
  it("refuses with 503 not_ready (not the caller's fault), reports it, and recovers when it is back", async () => {
    let up = false;
    const server = http.createServer((req, res) => {
      if (!up) return void res.writeHead(503).end();
      const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}/late`;
      if (req.url === '/late/.well-known/openid-configuration')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      if (req.url === '/late/jwks')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issuers.jwks('test-police')));
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}/late`;
      const v = createTokenVerifier({
        agencies: [{ id: 'late', name: 'Late Agency', agencyType: 'police', issuer, clientIds: ['late-system'], allowedRoles: ['system'] }],
        audience: issuers.audience,
        allowInsecureIssuers: true,
        discoveryRetrySeconds: 0,
      });
      const token = await issuers.token({ agency: 'test-police', issuer, clientId: 'late-system' });
      const down = await v.verify(bearer(token), {});
      expect(!down.ok && { code: down.error.code, status: down.error.status, retry: down.error.extras.retryAfterSeconds }).toEqual({
        code: 'not_ready',
        status: 503,
        retry: 5,
      });
      expect(await v.checkIssuers()).toEqual([expect.objectContaining({ issuer, ok: false })]);
      up = true;
      const back = await v.verify(bearer(token), {});
      expect(back.ok && back.value.agency.id).toBe('late');
      expect(await v.checkIssuers()).toEqual([{ issuer, ok: true }]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('every trusted issuer reports ready', async () => {
    const checks = await verifier.checkIssuers();
    expect(checks).toHaveLength(4);
    expect(checks.every((c) => c.ok)).toBe(true);
  });
});

describe('start-up refuses an unsafe configuration', () => {
  const agency = { id: 'a', name: 'A', agencyType: 'police' as const, clientIds: ['a'], allowedRoles: ['system' as const] };
  it('a plain-http issuer without allowInsecureIssuers', () => {
    expect(() =>
      createTokenVerifier({ agencies: [{ ...agency, issuer: 'http://idp.example/a' }], audience: 'urn:x', allowInsecureIssuers: false }),
    ).toThrow(/not https/);
  });
  it('an unresolved development issuer template', () => {
    expect(() =>
      createTokenVerifier({ agencies: [{ ...agency, issuer: 'devidp:a' }], audience: 'urn:x', allowInsecureIssuers: true }),
    ).toThrow(/development template/);
  });
  it('one client id at one issuer registered to two agencies', () => {
    const twice = [
      { ...agency, issuer: 'https://idp.example/r' },
      { ...agency, id: 'b', issuer: 'https://idp.example/r' },
    ];
    expect(() => createTokenVerifier({ agencies: twice, audience: 'urn:x', allowInsecureIssuers: false })).toThrow(/share a client id/);
  });
  it('symmetric or "none" algorithms', () => {
    expect(() =>
      createTokenVerifier({ agencies: [], audience: 'urn:x', allowInsecureIssuers: false, algorithms: ['ES256', 'HS256'] }),
    ).toThrow(/asymmetric/);
    expect(() => createTokenVerifier({ agencies: [], audience: 'urn:x', allowInsecureIssuers: false, algorithms: ['none'] })).toThrow(
      /asymmetric/,
    );
  });
});

describe('the trust registry file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-registry-'));
  const write = (name: string, agencies: unknown[]): string => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify({ agencies }));
    return file;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = {
    id: 'x-police',
    name: 'X Police',
    agencyType: 'police',
    issuer: 'https://idp.example/x',
    clientIds: ['x-system'],
    allowedRoles: ['system'],
  };

  it('the demo registry loads: Northshire agencies, each with its own issuer', () => {
    const agencies = loadAgencyRegistry('config/agencies.dev.json');
    expect(agencies.length).toBeGreaterThanOrEqual(7);
    expect(new Set(agencies.map((a) => a.issuer)).size).toBe(agencies.length);
    expect(agencies.every((a) => a.issuer === `devidp:${a.id}`)).toBe(true);
  });

  it('an unknown agencyType or role names the file, the agency, the word and the allowed values', () => {
    const file = write('bad-words.json', [{ ...base, agencyType: 'polise', allowedRoles: ['system', 'sherrif'] }]);
    let error: unknown;
    try {
      loadAgencyRegistry(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AgencyRegistryError);
    const message = (error as Error).message;
    expect(message).toContain(file);
    expect(message).toMatch(
      /agency "x-police": agencyType "polise" is not a word of the sharing vocabulary; allowed values: police, childrens_social_care/,
    );
    expect(message).toMatch(/agency "x-police": role "sherrif" is not a word of the sharing vocabulary; allowed values: practitioner/);
  });

  it('one (issuer, client id) pair may belong to one agency only; ids are unique', () => {
    expect(() => loadAgencyRegistry(write('pair.json', [base, { ...base, id: 'x-csc', agencyType: 'childrens_social_care' }]))).toThrow(
      /client "x-system" at issuer https:\/\/idp.example\/x already belongs to agency "x-police"/,
    );
    expect(() => loadAgencyRegistry(write('dup.json', [base, { ...base, clientIds: ['other'] }]))).toThrow(
      /"x-police" appears more than once/,
    );
    // The same client id at two different issuers is two different clients.
    expect(loadAgencyRegistry(write('ok.json', [base, { ...base, id: 'y', issuer: 'https://idp.example/y' }]))).toHaveLength(2);
  });

  it('unknown properties, bad issuers and missing fields are refused', () => {
    expect(() => loadAgencyRegistry(write('extra.json', [{ ...base, trustEverything: true }]))).toThrow(
      /unknown property "trustEverything"/,
    );
    expect(() => loadAgencyRegistry(write('iss.json', [{ ...base, issuer: 'ftp://idp.example' }]))).toThrow(/issuer must be/);
    expect(() => loadAgencyRegistry(write('missing.json', [{ ...base, clientIds: undefined }]))).toThrow(/missing "clientIds"/);
    expect(() => loadAgencyRegistry(path.join(dir, 'absent.json'))).toThrow(/cannot be read/);
  });
});
