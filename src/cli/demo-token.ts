/**
 * `npm run -s demo:token -- --agency northshire-police [--client <clientId>] [--scope "..."]`
 *
 * Gets an access token from the bundled development OpenID provider the way an agency's system would: OpenID
 * discovery, then the client credentials grant authenticated with `private_key_jwt` (openid-client), using the
 * client key the provider made under `<data dir>/dev-idp/clients/`. Prints ONLY the access token on stdout, so
 * `TOKEN=$(npm run -s demo:token -- --agency northshire-police)` works. Development only.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import * as client from 'openid-client';
import { loadAgencyRegistry } from '../auth/registry';
import { loadConfig } from '../config';
import { DEFAULT_DEVIDP_CONFIG_FILE, loadDevIdpConfig } from '../devidp/config';
import { clientKeyFile } from '../devidp/keys';

export interface ClientCredentialsRequest {
  /** The agency's issuer, e.g. http://127.0.0.1:9400/northshire-police. */
  readonly issuer: string;
  readonly clientId: string;
  /** The client's private JWK; or `dataDir` to read the development provider's persisted key. */
  readonly privateJwk?: JWK;
  readonly dataDir?: string;
  /** Space-separated scopes; omitted → the issuer's default for the client (often none). */
  readonly scope?: string;
  /** Resource indicator (the gateway audience); omitted → the issuer's default resource. */
  readonly resource?: string;
  /** Plain-http issuer: default true only for loopback addresses (the development provider). */
  readonly allowInsecureRequests?: boolean;
}

export interface ClientCredentialsToken {
  readonly accessToken: string;
  readonly expiresIn?: number;
  readonly scope?: string;
}

function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/** Discovery + client credentials with private_key_jwt (openid-client). */
export async function fetchClientCredentialsToken(request: ClientCredentialsRequest): Promise<ClientCredentialsToken> {
  const issuer = new URL(request.issuer);
  let jwk = request.privateJwk;
  if (!jwk) {
    if (!request.dataDir) throw new Error('fetchClientCredentialsToken needs privateJwk or dataDir');
    const file = clientKeyFile(request.dataDir, request.clientId);
    try {
      jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    } catch {
      throw new Error(
        `no private key for client "${request.clientId}" at ${file}: start the gateway with the development OpenID provider first (npm start), or pass --data-dir`,
      );
    }
  }
  const alg = jwk.alg ?? 'ES256';
  const key = (await importJWK(jwk, alg)) as CryptoKey;
  const insecure = request.allowInsecureRequests ?? isLoopbackHttp(issuer);
  let config: client.Configuration;
  try {
    config = await client.discovery(issuer, request.clientId, undefined, client.PrivateKeyJwt(jwk.kid ? { key, kid: jwk.kid } : key), {
      timeout: 10,
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
  } catch (e) {
    throw new Error(`could not read the OpenID configuration of ${issuer.href} (is npm start running, with this --idp / DEV_IDP_PORT?)`, {
      cause: e,
    });
  }
  const parameters: Record<string, string> = {};
  if (request.scope) parameters.scope = request.scope;
  if (request.resource) parameters.resource = request.resource;
  let tokens: Awaited<ReturnType<typeof client.clientCredentialsGrant>>;
  try {
    tokens = await client.clientCredentialsGrant(config, parameters);
  } catch (e) {
    if (e instanceof client.ResponseBodyError) {
      throw new Error(
        `the token endpoint of ${issuer.href} refused client "${request.clientId}": ${e.error}${e.error_description ? ` (${e.error_description})` : ''}`,
        { cause: e },
      );
    }
    throw new Error(`could not get a token from ${issuer.href}`, { cause: e });
  }
  return {
    accessToken: tokens.access_token,
    ...(tokens.expires_in !== undefined ? { expiresIn: tokens.expires_in } : {}),
    ...(typeof tokens.scope === 'string' ? { scope: tokens.scope } : {}),
  };
}

interface CliOptions {
  agency: string;
  client?: string;
  scope?: string;
  dataDir: string;
  idp: string;
  audience: string;
  agencies: string;
  devidpConfig: string;
}

async function main(argv: readonly string[]): Promise<void> {
  const config = loadConfig();
  const program = new Command()
    .name('demo-token')
    .description('Print an access token from the development OpenID provider (client credentials, private_key_jwt).')
    .requiredOption('--agency <agencyId>', 'the demo agency, e.g. northshire-police')
    .option('--client <clientId>', "the client (default: the agency's system client)")
    .option('--scope <scopes>', 'space-separated scopes (default: all the client may have, from config/devidp.json)')
    .option('--data-dir <dir>', 'the gateway data directory holding dev-idp/clients/*.private.jwk.json', config.dataDir)
    .option('--idp <url>', 'the development OpenID provider', `http://127.0.0.1:${config.devIdp.port}`)
    .option('--audience <aud>', 'the gateway audience (resource indicator)', config.audience)
    .option('--agencies <file>', 'the trust registry', config.agenciesFile)
    .option('--devidp-config <file>', 'demo clients and accounts', DEFAULT_DEVIDP_CONFIG_FILE)
    .showHelpAfterError();
  program.parse([...argv]);
  const opts = program.opts<CliOptions>();

  const agencies = loadAgencyRegistry(opts.agencies);
  const devConfig = loadDevIdpConfig(opts.devidpConfig, agencies);
  const entry = devConfig.get(opts.agency);
  if (!entry) throw new Error(`"${opts.agency}" is not a demo agency; choose one of: ${[...devConfig.keys()].join(', ')}`);
  const systemClients = entry.clients.filter((c) => c.kind === 'system');
  const chosen = opts.client
    ? systemClients.find((c) => c.clientId === opts.client)
    : (systemClients.find((c) => c.role === 'system') ?? systemClients[0]);
  if (!chosen) {
    throw new Error(
      `agency "${opts.agency}" has no system client${opts.client ? ` "${opts.client}"` : ''}; its system clients: ${systemClients.map((c) => c.clientId).join(', ') || 'none'}`,
    );
  }
  const token = await fetchClientCredentialsToken({
    issuer: `${opts.idp.replace(/\/+$/, '')}/${opts.agency}`,
    clientId: chosen.clientId,
    dataDir: opts.dataDir,
    scope: opts.scope ?? chosen.scope,
    resource: opts.audience,
  });
  process.stdout.write(`${token.accessToken}\n`);
}

if (require.main === module) {
  main(process.argv).catch((e: unknown) => {
    const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : '';
    process.stderr.write(`demo-token: ${e instanceof Error ? e.message : String(e)}${cause}\n`);
    process.exit(1);
  });
}
