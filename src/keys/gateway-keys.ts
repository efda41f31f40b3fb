/**
 * The gateway's own signing keys (jose; no hand-rolled cryptography): one key pair per use, so that a ledger
 * checkpoint can never be passed off as a notification or the reverse.
 *   - `ledger`: signs audit-ledger checkpoints;
 *   - `notifications`: signs messages delivered to agencies' webhooks.
 * Private keys live in `<dataDir>/keys/<use>.private.jwk.json` (0600, git-ignored) or come from the environment
 * (GATEWAY_LEDGER_KEY / GATEWAY_NOTIFICATIONS_KEY, a private JWK as JSON). The public keys are published as a JWKS at
 * `GET /.well-known/jwks.json` so anyone can verify without trusting the gateway's database.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

export const KEY_USES = ['ledger', 'notifications'] as const;
export type KeyUse = (typeof KEY_USES)[number];
export const SIGNING_ALG = 'ES256';

export interface SigningKey {
  readonly use: KeyUse;
  readonly kid: string;
  readonly alg: typeof SIGNING_ALG;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface GatewayKeys {
  key(use: KeyUse): SigningKey;
  /** The public JWKS (no private members). */
  jwks(): { keys: JWK[] };
}

async function fromJwk(use: KeyUse, privateJwk: JWK): Promise<SigningKey> {
  if (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256' || !privateJwk.d) throw new Error(`the ${use} key must be a private EC P-256 JWK`);
  const { d: _d, ...publicPart } = privateJwk;
  const kid = privateJwk.kid ?? (await calculateJwkThumbprint(publicPart));
  const privateKey = (await importJWK({ ...privateJwk, alg: SIGNING_ALG }, SIGNING_ALG)) as CryptoKey;
  const publicJwk: JWK = { kty: publicPart.kty, crv: publicPart.crv, x: publicPart.x, y: publicPart.y, kid, alg: SIGNING_ALG, use: 'sig' };
  return { use, kid, alg: SIGNING_ALG, privateKey, publicJwk };
}

async function loadOrCreate(use: KeyUse, dataDir: string, given: string | undefined): Promise<SigningKey> {
  if (given) return fromJwk(use, JSON.parse(given) as JWK);
  const dir = path.join(dataDir, 'keys');
  const file = path.join(dir, `${use}.private.jwk.json`);
  if (!existsSync(file)) {
    const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const jwk = await exportJWK(privateKey);
    const { d: _d, ...publicPart } = jwk;
    jwk.kid = `${use}-${(await calculateJwkThumbprint(publicPart)).slice(0, 16)}`;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  }
  return fromJwk(use, JSON.parse(readFileSync(file, 'utf8')) as JWK);
}

/** `given`: private JWKs as JSON (config.keys, from GATEWAY_<USE>_KEY); a use not given is made once in `dataDir`/keys. */
export async function loadGatewayKeys(dataDir: string, given: Readonly<Partial<Record<KeyUse, string>>>): Promise<GatewayKeys> {
  const keys = new Map<KeyUse, SigningKey>();
  for (const use of KEY_USES) keys.set(use, await loadOrCreate(use, dataDir, given[use]));
  return {
    key(use) {
      const k = keys.get(use);
      if (!k) throw new Error(`no ${use} key`);
      return k;
    },
    jwks: () => ({ keys: [...keys.values()].map((k) => k.publicJwk) }),
  };
}
