/**
 * The one configuration path: `loadConfig` reads the environment (through src/env.ts) once and returns everything —
 * database, keys, notifications, sealer, workers. Nothing else reads `process.env`: the composition root
 * (src/gateway.ts), main.ts and the CLIs take a `GatewayConfig`. A bad value stops start-up with a message that
 * names the variable; nothing is guessed. README.md "Configuration" lists every variable.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, flag, integer, text, type Env } from './env';
import { KEY_USES, type KeyUse } from './keys/gateway-keys';
import { loadNotificationConfig, type NotificationConfig } from './notifications/config';
import { loadWitnessConfig, type WitnessConfig } from './witness/config';

/** Which PostgreSQL: an external server (DATABASE_URL; its user owns the schema) or the embedded one under DATA_DIR. */
export type DatabaseConfig =
  { readonly kind: 'external'; readonly ownerUrl: string } | { readonly kind: 'embedded'; readonly dataDir: string; readonly port: number };

export const DEFAULT_PG_PORT = 54329;
import { loadTransportConfig, type TransportConfig } from './auth/tls-listener';
import { loadWorkflowSettings, type WorkflowSettings } from './workflows/settings';

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** The application role's connection; absent → derived from the owner's with a fresh password. */
  readonly appDatabaseUrl?: string;
  readonly audience: string;
  readonly agenciesFile: string;
  /** `tlsPort`: the dev IdP's mutual-TLS listener (bound tokens), started when the gateway has TLS with a client CA. */
  readonly devIdp: { readonly enabled: boolean; readonly port: number; readonly tlsPort: number };
  /** Plain-http issuers are accepted only for the bundled development provider (never by default otherwise). */
  readonly allowInsecureIssuers: boolean;
  readonly policyDir: string;
  readonly limits: { readonly bodyBytes: number; readonly perAgencyPerMinute: number; readonly perIpPerMinute: number };
  /** Refusals of unidentified callers: one ledger entry per source address, problem and window of this length. */
  readonly refusalSummaryWindowMs: number;
  readonly logLevel: string;
  readonly pseudonymKey: string;
  /** The practitioners' pages: where agencies' identity providers send them back, and the session cookie key. */
  readonly web: { readonly redirectUri: string; readonly sessionSecret: string };
  /** Signed ledger checkpoints: where they are exported (and mirrored), and how often the ledger is sealed (0 = only on demand). */
  readonly checkpoints: {
    readonly exportDir: string;
    readonly mirrorDir?: string;
    readonly intervalMs: number;
    /** This process seals periodically (SAFEGUARD_SEALER=off in all workers but the first). */
    readonly sealer: boolean;
  };
  readonly database: DatabaseConfig;
  /** The gateway's signing keys given as private JWK JSON (GATEWAY_<USE>_KEY); a use not given is made once in DATA_DIR/keys. */
  readonly keys: Readonly<Partial<Record<KeyUse, string>>>;
  readonly notifications: NotificationConfig;
  /** Serving processes (node:cluster) sharing the port. */
  readonly workers: number;
  /** Set by the primary for its workers only (internal): the prepared environment as JSON. */
  readonly preparedEnvironment?: string;
  /** The optional HTTPS listener (mutual TLS) and client certificates from a TLS-terminating proxy. */
  readonly transport: TransportConfig;
  /** Referrals, requests for information, the triage list: time limits (WORKFLOWS_FILE, default config/workflows.json). */
  readonly workflows: WorkflowSettings;
  /**
   * Ledger trust beyond the database host: the checkpoint origin (LEDGER_ORIGIN, also the note key's name), the
   * witnesses (LEDGER_WITNESSES: `<url> <verifier key>` pairs, comma-separated), how many cosignatures verification
   * requires (LEDGER_WITNESS_QUORUM, default: all of them), and the entry MAC key (LEDGER_MAC_KEY or a file).
   */
  readonly ledger: { readonly origin: string; readonly witnesses: string; readonly quorum: number; readonly macKey: string };
}

/** The environment variable through which the primary hands its workers the prepared environment. */
export const PREPARED_ENV = 'SAFEGUARD_PREPARED_ENVIRONMENT';

/** A secret from the environment, or made once and kept in the data directory (0600). */
function secret(env: Env, name: string, dataDir: string, fileName: string): string {
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

function checkpointInterval(env: Env): number {
  const ms = integer(env, 'CHECKPOINT_INTERVAL_MS', 1000, 0, 86_400_000);
  if (ms !== 0 && ms < 100) throw new ConfigError('CHECKPOINT_INTERVAL_MS must be 0 (seal only on demand) or at least 100');
  return ms;
}

function ledgerTrust(env: Env, dataDir: string): GatewayConfig['ledger'] {
  const origin = env.LEDGER_ORIGIN ?? 'localhost/safeguard-gateway/audit-ledger';
  if (!/^[\x21-\x7e]+$/.test(origin) || origin.includes('+') || origin.length > 256) {
    throw new ConfigError(
      `LEDGER_ORIGIN must be printable ASCII without spaces or "+", e.g. gateway.example.gov.uk/audit-ledger, got "${origin}"`,
    );
  }
  const witnesses = env.LEDGER_WITNESSES ?? '';
  const count = witnesses.split(',').filter((w) => w.trim()).length;
  const quorum = integer(env, 'LEDGER_WITNESS_QUORUM', count, 0, count);
  return { origin, witnesses, quorum, macKey: secret(env, 'LEDGER_MAC_KEY', dataDir, 'ledger-mac-key') };
}

export const DEV_AGENCIES_FILE = 'config/agencies.dev.json';

function databaseConfig(env: Env, dataDir: string): DatabaseConfig {
  const url = text(env, 'DATABASE_URL');
  if (url) return { kind: 'external', ownerUrl: url };
  return { kind: 'embedded', dataDir, port: integer(env, 'PG_PORT', DEFAULT_PG_PORT, 1, 65535) };
}

function keysConfig(env: Env): Partial<Record<KeyUse, string>> {
  const keys: Partial<Record<KeyUse, string>> = {};
  for (const use of KEY_USES) {
    const given = text(env, `GATEWAY_${use.toUpperCase()}_KEY`);
    if (given) keys[use] = given;
  }
  return keys;
}

export function loadConfig(env: Env = process.env): GatewayConfig {
  const dataDir = path.resolve(env.DATA_DIR ?? 'data');
  const agenciesFile = env.AGENCIES_FILE ?? DEV_AGENCIES_FILE;
  const devIdpEnabled = flag(env, 'DEV_IDP', agenciesFile === DEV_AGENCIES_FILE);
  const audience = env.GATEWAY_AUDIENCE ?? 'urn:safeguard-gateway';
  // Any non-empty string: a URN, a URL, an Entra application id (GUID) or `api://…` URI.
  if (audience.trim() === '' || audience !== audience.trim())
    throw new ConfigError(`GATEWAY_AUDIENCE must be a non-empty string without surrounding spaces, got "${audience}"`);
  return {
    host: env.HOST ?? '127.0.0.1',
    port: integer(env, 'PORT', 8080, 1, 65535),
    transport: loadTransportConfig(env),
    dataDir,
    ...(env.APP_DATABASE_URL ? { appDatabaseUrl: env.APP_DATABASE_URL } : {}),
    audience,
    agenciesFile,
    devIdp: {
      enabled: devIdpEnabled,
      port: integer(env, 'DEV_IDP_PORT', 9400, 1, 65535),
      tlsPort: integer(env, 'DEV_IDP_TLS_PORT', 9443, 0, 65535),
    },
    allowInsecureIssuers: flag(env, 'ALLOW_INSECURE_ISSUERS', devIdpEnabled),
    policyDir: env.POLICY_DIR ?? 'policies',
    refusalSummaryWindowMs: integer(env, 'REFUSAL_SUMMARY_WINDOW_MS', 60_000, 1000, 86_400_000),
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
      sealer: env.SAFEGUARD_SEALER !== 'off',
    },
    database: databaseConfig(env, dataDir),
    keys: keysConfig(env),
    notifications: loadNotificationConfig(env),
    workers: integer(env, 'WORKERS', 1, 1, 64),
    ...(env[PREPARED_ENV] ? { preparedEnvironment: env[PREPARED_ENV] } : {}),
    workflows: loadWorkflowSettings(env.WORKFLOWS_FILE ?? 'config/workflows.json'),
    ledger: ledgerTrust(env, dataDir),
    web: {
      redirectUri: env.WEB_REDIRECT_URI ?? `http://${env.HOST ?? '127.0.0.1'}:${env.PORT ?? '8080'}/auth/callback`,
      sessionSecret: secret(env, 'WEB_SESSION_SECRET', dataDir, 'web-session-secret'),
    },
  };
}

/** The configuration of `npm run witness` (its own process and settings, WITNESS_*: src/witness/config.ts). */
export function loadWitnessSettings(env: Env = process.env): WitnessConfig {
  return loadWitnessConfig(env);
}
