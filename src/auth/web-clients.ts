/**
 * Each agency's web client at its own identity provider, for the practitioners' pages (authorization code + PKCE):
 * read at start-up from the trust registry's `webClient` settings — the client secret (client_secret_basic) or the
 * private key (private_key_jwt, a private JWK as JSON or a PKCS#8 PEM) from its file, the scopes to ask for and the
 * claim that carries the practitioner's name. A file that cannot be read stops start-up, naming the agency.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import type { Agency } from './registry';

export interface WebClient {
  readonly clientId: string;
  /** client_secret_basic. */
  readonly clientSecret?: string;
  /** private_key_jwt: the private key as a JWK (with `alg`, and `kid` when the provider needs one). */
  readonly privateKeyJwk?: JWK;
  /** Scopes to ask for (default: the pages' own default). */
  readonly scope?: string;
  /** The ID-token claim with the practitioner's name (default `name`). */
  readonly nameClaim?: string;
}

function algFor(jwk: JWK): string {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'EC') return jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-521' ? 'ES512' : 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  return 'RS256';
}

/** A private key file as a JWK: JSON (a JWK) or PEM (PKCS#8 / traditional). */
export function readPrivateKeyFile(file: string): JWK {
  const text = readFileSync(file, 'utf8');
  let jwk: JWK;
  if (text.trim().startsWith('{')) {
    jwk = JSON.parse(text) as JWK;
  } else {
    jwk = createPrivateKey(text).export({ format: 'jwk' });
  }
  if (!jwk.d) throw new Error(`${file} holds no private key`);
  return { ...jwk, alg: algFor(jwk) };
}

export function loadWebClients(agencies: readonly Agency[]): Record<string, WebClient> {
  const clients: Record<string, WebClient> = {};
  for (const agency of agencies) {
    const settings = agency.webClient;
    if (!settings) continue;
    const where = `agency "${agency.id}": webClient`;
    let secretOrKey: Pick<WebClient, 'clientSecret' | 'privateKeyJwk'>;
    try {
      if (settings.privateKeyFile) {
        secretOrKey = { privateKeyJwk: readPrivateKeyFile(settings.privateKeyFile) };
      } else {
        const secret = readFileSync(settings.clientSecretFile ?? '', 'utf8').trim();
        if (secret === '') throw new Error(`${settings.clientSecretFile ?? ''} is empty`);
        secretOrKey = { clientSecret: secret };
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(
        `${where}: ${code ? `${settings.privateKeyFile ?? settings.clientSecretFile ?? ''} cannot be read (${code})` : (e as Error).message}`,
        { cause: e },
      );
    }
    clients[agency.id] = {
      clientId: settings.clientId,
      ...secretOrKey,
      ...(settings.scopes ? { scope: settings.scopes } : {}),
      ...(settings.nameClaim ? { nameClaim: settings.nameClaim } : {}),
    };
  }
  return clients;
}
