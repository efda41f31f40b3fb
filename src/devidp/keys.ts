/**
 * Key material of the development OpenID provider, made with jose on first start and kept under
 * `<dataDir>/dev-idp/` (directories 0700, files 0600, git-ignored) so that restarts keep issuers' keys, client keys
 * and web-client secrets. Development only.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

export const DEV_KEY_ALG = 'ES256';

export function devIdpDir(dataDir: string): string {
  return path.join(dataDir, 'dev-idp');
}

export function clientKeyFile(dataDir: string, clientId: string): string {
  return path.join(devIdpDir(dataDir), 'clients', `${clientId}.private.jwk.json`);
}

export function clientSecretFile(dataDir: string, clientId: string): string {
  return path.join(devIdpDir(dataDir), 'clients', `${clientId}.secret`);
}

export function issuerKeysFile(dataDir: string, agencyId: string): string {
  return path.join(devIdpDir(dataDir), 'issuers', `${agencyId}.jwks.json`);
}

function writePrivate(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
}

function readPrivate(file: string): string {
  // A key file others can read is tightened, never trusted as is.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return readFileSync(file, 'utf8');
}

/** The public part of a private JWK (EC or OKP or RSA). */
export function publicJwk(privateJwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...rest } = privateJwk;
  return rest;
}

async function newPrivateJwk(kidPrefix: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(DEV_KEY_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = `${kidPrefix}-${(await calculateJwkThumbprint(jwk)).slice(0, 12)}`;
  return { ...jwk, kid, alg: DEV_KEY_ALG, use: 'sig' };
}

/** A persisted private JWK (made on first use). */
export async function loadOrCreatePrivateJwk(file: string, kidPrefix: string): Promise<JWK> {
  if (!existsSync(file)) {
    try {
      writePrivate(file, `${JSON.stringify(await newPrivateJwk(kidPrefix), null, 2)}\n`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const jwk = JSON.parse(readPrivate(file)) as JWK;
  if (typeof jwk.d !== 'string') throw new Error(`${file} is not a private JWK`);
  return jwk;
}

/** A persisted private JWKS of one signing key (made on first use). */
export async function loadOrCreateIssuerKeys(file: string, kidPrefix: string): Promise<{ keys: JWK[] }> {
  if (!existsSync(file)) {
    try {
      writePrivate(file, `${JSON.stringify({ keys: [await newPrivateJwk(kidPrefix)] }, null, 2)}\n`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const jwks = JSON.parse(readPrivate(file)) as { keys?: unknown };
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error(`${file} is not a private JWKS`);
  return { keys: jwks.keys as JWK[] };
}

/** A persisted random secret (made on first use). */
export function loadOrCreateSecret(file: string): string {
  if (!existsSync(file)) {
    try {
      writePrivate(file, randomBytes(32).toString('base64url'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return readPrivate(file).trim();
}
