/**
 * `npm run -s token:check -- --agency <agencyId> < token.txt`
 *
 * Checks one access token exactly as the gateway would for that agency — its trust registry entry (tokenProfile,
 * audience, roleMap, scopeMap, introspection, allowMultipleAudiences), discovery and keys from its real issuer — and
 * prints the Principal the gateway would derive, or the exact refusal (status, code, the plain-English reason).
 * Exit 0 accepted, 1 refused, 2 could not check. The token is read from stdin (a bare token or "Bearer <token>")
 * and never printed. `--cert <file>` gives the client certificate (PEM) for a certificate-bound token.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { Command } from 'commander';
import { thumbprintOf } from '../auth/client-certificate';
import { tokenProfile } from '../auth/profiles';
import { DEV_IDP_ISSUER_PREFIX, loadAgencyRegistry, type Agency } from '../auth/registry';
import { createTokenVerifier } from '../auth/token-verifier';
import { loadConfig } from '../config';
import { parseOrExitCode, runAndExit } from './process';

export interface TokenCheckInput {
  readonly agencyId: string;
  readonly agencies: readonly Agency[];
  /** The raw token or Authorization header value. */
  readonly token: string;
  readonly audience: string;
  readonly allowInsecureIssuers: boolean;
  /** The development provider's base URL, for `devidp:` issuer templates. */
  readonly devIdpBaseUrl?: string;
  /** PEM of the client certificate the caller would present. */
  readonly certificatePem?: string;
}

export interface TokenCheckResult {
  readonly exitCode: 0 | 1 | 2;
  readonly report: Record<string, unknown>;
}

export async function checkToken(input: TokenCheckInput): Promise<TokenCheckResult> {
  const resolved = input.agencies.map((a) =>
    a.issuer.startsWith(DEV_IDP_ISSUER_PREFIX) && input.devIdpBaseUrl
      ? { ...a, issuer: `${input.devIdpBaseUrl.replace(/\/+$/, '')}/${a.id}` }
      : a,
  );
  const agency = resolved.find((a) => a.id === input.agencyId);
  if (!agency)
    return {
      exitCode: 2,
      report: { error: `"${input.agencyId}" is not in the trust registry; its agencies: ${resolved.map((a) => a.id).join(', ')}` },
    };
  // The agencies the gateway would consider for a token from this issuer (so "another agency's client" reads as it would).
  const atIssuer = resolved.filter((a) => a.issuer === agency.issuer);
  const verifier = createTokenVerifier({
    agencies: atIssuer,
    audience: input.audience,
    allowInsecureIssuers: input.allowInsecureIssuers,
    cacheSeconds: 0,
  });
  const raw = input.token.trim();
  const authorization = /^bearer\s/i.test(raw) ? raw : `Bearer ${raw}`;
  const thumbprint = input.certificatePem ? thumbprintOf(new X509Certificate(input.certificatePem).raw) : undefined;
  const result = await verifier.verify(authorization, {
    ...(thumbprint ? { clientCertThumbprint: thumbprint } : {}),
    agencyHint: agency.id,
  });
  const profile = tokenProfile(agency.tokenProfile).id;
  if (!result.ok) {
    const e = result.error;
    return {
      exitCode: e.status === 503 ? 2 : 1,
      report: { accepted: false, agency: agency.id, tokenProfile: profile, status: e.status, code: e.code, detail: e.detail },
    };
  }
  const p = result.value;
  if (p.agency.id !== agency.id) {
    return {
      exitCode: 1,
      report: {
        accepted: false,
        agency: agency.id,
        tokenProfile: profile,
        detail: `This token is accepted, but for "${p.agency.id}" (its client ${p.clientId} is registered there), not "${agency.id}".`,
      },
    };
  }
  return {
    exitCode: 0,
    report: {
      accepted: true,
      agency: p.agency.id,
      agencyType: p.agency.agencyType,
      tokenProfile: profile,
      issuer: p.issuer,
      clientId: p.clientId,
      role: p.role,
      practitioner: p.practitioner ?? null,
      scopes: [...p.scopes],
      ...(p.tokenId ? { tokenId: p.tokenId } : {}),
      expiresAt: p.expiresAt.toISOString(),
      certificateBound: thumbprint !== undefined,
    },
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv: readonly string[]): Promise<number> {
  const config = loadConfig();
  const program = new Command()
    .name('token:check')
    .description('Check an access token (read from stdin) as the gateway would for one agency; print the principal or the refusal.')
    .requiredOption('--agency <agencyId>', 'the agency in the trust registry')
    .option('--agencies <file>', 'the trust registry', config.agenciesFile)
    .option('--audience <aud>', 'GATEWAY_AUDIENCE (an agency\'s own "audience" overrides it)', config.audience)
    .option('--idp <url>', 'the development OpenID provider, for devidp: issuers', `http://127.0.0.1:${config.devIdp.port}`)
    .option('--cert <file>', 'the client certificate (PEM) presented with a certificate-bound token')
    .exitOverride()
    .showHelpAfterError();
  const code = parseOrExitCode(program, argv);
  if (code !== undefined) return code;
  const opts = program.opts<{ agency: string; agencies: string; audience: string; idp: string; cert?: string }>();
  const token = await readStdin();
  if (token.trim() === '') {
    process.stderr.write('token:check: no token on stdin (npm run -s token:check -- --agency <id> < token.txt)\n');
    return 2;
  }
  const result = await checkToken({
    agencyId: opts.agency,
    agencies: loadAgencyRegistry(opts.agencies),
    token,
    audience: opts.audience,
    allowInsecureIssuers: config.allowInsecureIssuers,
    devIdpBaseUrl: opts.idp,
    ...(opts.cert ? { certificatePem: readFileSync(opts.cert, 'utf8') } : {}),
  });
  process.stdout.write(`${JSON.stringify(result.report, null, 2)}\n`);
  return result.exitCode;
}

if (require.main === module) runAndExit(() => main(process.argv), 'token:check');
