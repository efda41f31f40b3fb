/**
 * Configuration from the environment, checked once at start-up. A bad value stops start-up with a message that
 * names the variable; nothing is guessed. (Which database: DATABASE_URL / PG_PORT / DATA_DIR, read by src/db/resolve.ts.) README.md "Configuration" lists every variable.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, flag, integer } from './env';

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** The application role's connection; absent → derived from the owner's with a fresh password. */
  readonly appDatabaseUrl?: string;
  readonly audience: string;
  readonly agenciesFile: string;
  readonly devIdp: { readonly enabled: boolean; readonly port: number };
  /** Plain-http issuers are accepted only for the bundled development provider (never by default otherwise). */
  readonly allowInsecureIssuers: boolean;
  readonly policyDir: string;
  readonly limits: { readonly bodyBytes: number; readonly perAgencyPerMinute: number; readonly perIpPerMinute: number };
  readonly logLevel: string;
  readonly pseudonymKey: string;
  /** The practitioners' pages: where agencies' identity providers send them back, and the session cookie key. */
  readonly web: { readonly redirectUri: string; readonly sessionSecret: string };
  /** Signed ledger checkpoints: where they are exported (and mirrored), and how often the ledger is sealed (0 = only on demand). */
  readonly checkpoints: { readonly exportDir: string; readonly mirrorDir?: string; readonly intervalMs: number };
}

/** A secret from the environment, or made once and kept in the data directory (0600). */
function secret(env: NodeJS.ProcessEnv, name: string, dataDir: string, fileName: string): string {
  const given = env[name];
  if (given) {
    if (given.length < 32) throw new ConfigError(`${name} must be at least 32 characters`);
    return given;
  }
  const file = path.join(dataDir, fileName);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

function checkpointInterval(env: NodeJS.ProcessEnv): number {
  const ms = integer(env, 'CHECKPOINT_INTERVAL_MS', 300_000, 0, 86_400_000);
  if (ms !== 0 && ms < 1000) throw new ConfigError('CHECKPOINT_INTERVAL_MS must be 0 (seal only on demand) or at least 1000');
  return ms;
}

export const DEV_AGENCIES_FILE = 'config/agencies.dev.json';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const dataDir = path.resolve(env.DATA_DIR ?? 'data');
  const agenciesFile = env.AGENCIES_FILE ?? DEV_AGENCIES_FILE;
  const devIdpEnabled = flag(env, 'DEV_IDP', agenciesFile === DEV_AGENCIES_FILE);
  const audience = env.GATEWAY_AUDIENCE ?? 'urn:safeguard-gateway';
  // Any non-empty string: a URN, a URL, an Entra application id (GUID) or `api://…` URI.
  if (audience.trim() === '' || audience !== audience.trim()) throw new ConfigError(`GATEWAY_AUDIENCE must be a non-empty string without surrounding spaces, got "${audience}"`);
  return {
    host: env.HOST ?? '127.0.0.1',
    port: integer(env, 'PORT', 8080, 1, 65535),
    dataDir,
    ...(env.APP_DATABASE_URL ? { appDatabaseUrl: env.APP_DATABASE_URL } : {}),
    audience,
    agenciesFile,
    devIdp: { enabled: devIdpEnabled, port: integer(env, 'DEV_IDP_PORT', 9400, 1, 65535) },
    allowInsecureIssuers: flag(env, 'ALLOW_INSECURE_ISSUERS', devIdpEnabled),
    policyDir: env.POLICY_DIR ?? 'policies',
    limits: {
      bodyBytes: integer(env, 'BODY_LIMIT_BYTES', 32 * 1024, 1024, 10 * 1024 * 1024),
      perAgencyPerMinute: integer(env, 'RATE_LIMIT_PER_AGENCY_PER_MINUTE', 6000, 1, 10_000_000),
      perIpPerMinute: integer(env, 'RATE_LIMIT_PER_IP_PER_MINUTE', 12000, 1, 10_000_000),
    },
    logLevel: env.LOG_LEVEL ?? 'info',
    pseudonymKey: secret(env, 'AUDIT_PSEUDONYM_KEY', dataDir, 'audit-pseudonym-key'),
    checkpoints: {
      exportDir: path.resolve(env.CHECKPOINT_EXPORT_DIR ?? path.join(dataDir, 'checkpoints')),
      ...(env.CHECKPOINT_MIRROR_DIR ? { mirrorDir: path.resolve(env.CHECKPOINT_MIRROR_DIR) } : {}),
      intervalMs: checkpointInterval(env),
    },
    web: {
      redirectUri: env.WEB_REDIRECT_URI ?? `http://${env.HOST ?? '127.0.0.1'}:${env.PORT ?? '8080'}/auth/callback`,
      sessionSecret: secret(env, 'WEB_SESSION_SECRET', dataDir, 'web-session-secret'),
    },
  };
}
