/**
 * The composition root: builds every part from configuration and wires them together. Nothing else constructs
 * a database pool, a ledger, a verifier or a policy engine.
 *
 * Two halves, so that several worker processes can serve one prepared environment (WORKERS > 1):
 *   prepare  — (src/prepare.ts) database (embedded or DATABASE_URL) → migrations as owner → development OpenID
 *              provider (if enabled) → trust registry (config → database). Runs once, in the primary process.
 *   assemble — policies (a bad file stops start-up) → app-role pools → audit ledger → token verifier → keys
 *              → background tasks → pages → Express app. Used by `serve` and by the HTTP test harness.
 *   serve    — assemble → listen (and the mutual-TLS listener). Runs in every worker (or in the one process).
 */
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config';
import { createPool, type ManagedPool } from './db/pool';
import { loadPolicyCatalogue, type PolicyCatalogueEngine } from './policy';
import type { Agency } from './auth/registry';
import { createTokenVerifier } from './auth/token-verifier';
import { createTlsServer } from './auth/tls-listener';
import type { WebClient } from './auth/web-clients';
import type { AuditLedger } from './audit/entry';
import { PgAuditLedger } from './audit/pg-ledger';
import { pseudonymiser } from './audit/pseudonym';
import { useContentHashKey } from './audit/entry';
import { createApp } from './http/app';
import { answerClientErrors, listen } from './http/server';
import { expressClasses } from './http/express-classes';
import { sourceOf } from './http/refusals';
import { anonymousRefusals, startRefusalFolder } from './audit/anonymous-refusals';
import { ERROR_STATUS, type ErrorCode } from './errors';
import { loadGatewayKeys, type GatewayKeys } from './keys/gateway-keys';
import { postgresSessionStore } from './web/session';
import { webRouter } from './web';
import { webProofs } from './web/proofs';
import {
  directorySinks,
  parseWitnessList,
  sealerThreadData,
  sealWith,
  startCheckpointer,
  startSealerThread,
  SubtreeCache,
  type Checkpointer,
  type CheckpointSink,
  type SealResult,
} from './audit/checkpoints';
import { entryMacKey } from './audit/entry-mac';
import { startDispatcher } from './notifications/dispatcher';
import { startWorkflowSweeper } from './workflows/sweeper';

export { createLogger } from './logger';

/** What `prepare` hands to every serving process (plain data: it crosses process boundaries as JSON). */
export interface PreparedEnvironment {
  readonly appDatabaseUrl: string;
  readonly agencies: readonly Agency[];
  readonly embeddedDatabase: boolean;
  readonly devIdpBaseUrl?: string;
  /**
   * Each agency's web client at its identity provider (registry `webClient`, or the dev IdP's demo client): the pages
   * sign practitioners in with it.
   */
  readonly webClients: Readonly<Record<string, WebClient>>;
}

type Closer = () => Promise<void>;
export function closerStack(logger: Logger): { push(fn: Closer): void; close(): Promise<void> } {
  const closers: Closer[] = [];
  return {
    push: (fn) => void closers.push(fn),
    async close() {
      while (closers.length) await closers.pop()!().catch((e: unknown) => logger.warn({ err: e }, 'error while closing'));
    },
  };
}

export interface Serving {
  readonly url: string;
  /** The HTTPS (mutual TLS) listener, when TLS_CERT_FILE / TLS_KEY_FILE are set. */
  readonly tlsUrl?: string;
  readonly policyVersion: string;
  close(): Promise<void>;
}

/** What `assemble` builds: the wired app and the parts a caller (serve, the test harness) may need. */
export interface Assembled {
  readonly app: Express;
  readonly engine: PolicyCatalogueEngine;
  /** The request pool (the ledger has a pool of its own). */
  readonly pool: ManagedPool;
  readonly ledger: AuditLedger;
  readonly keys: GatewayKeys;
  /** Where signed checkpoints are exported (and mirrored). */
  readonly sinks: readonly CheckpointSink[];
  /** Seals the ledger now, on this thread, with everything the sealer seals with (sinks, witnesses, MAC key). */
  seal(): Promise<SealResult>;
  /** The periodic sealer, when this process runs one (its `sealNow` seals where it runs: the sealer thread by default). */
  readonly checkpointer?: Checkpointer;
  /** Refusals of unidentified callers, counted per source (the listener reports the ones Node's parser refuses). */
  readonly refusals: ReturnType<typeof anonymousRefusals>;
  /** Synchronous, first thing when stopping: from now on the pools' connection errors are expected. */
  markClosing(): void;
  /** Stops the background tasks, settles the ledger and ends the pools (not the listeners). */
  close(): Promise<void>;
}

export interface AssembleOptions {
  /** The background tasks: sealer (when configured), notifications dispatcher, workflow sweeper, refusal folder (default true). */
  readonly background?: boolean;
  /** The practitioners' and auditors' pages (default true). */
  readonly pages?: boolean;
  /** Connections in the request pool (default 10). */
  readonly poolSize?: number;
  /**
   * Where the periodic sealer runs: in a worker thread of this process, with its own pool (default), or on the serving
   * thread ('in-process', for an embedder that wants no thread).
   */
  readonly sealer?: 'thread' | 'in-process';
  /** Test seams: narrow, typed, and no second wiring. */
  readonly overrides?: AssembleOverrides;
}

/** What a test may put in place of a part `assemble` builds; everything else is built from the configuration. */
export interface AssembleOverrides {
  /** Stands in front of the ledger writer (the fault tests make appends fail as an outage would). */
  readonly ledger?: (writer: AuditLedger) => AuditLedger;
  /** How long a ledger append may wait for its commit before it fails (default 10 s). */
  readonly ledgerTimeoutMs?: number;
  /** How long the pools wait for a new connection (default: no limit, as pg). */
  readonly connectionTimeoutMs?: number;
  /**
   * Key content hashes with the pseudonym key (default true, as the gateway always does). The key is process-wide
   * (`useContentHashKey`), so the HTTP harness keeps the unkeyed form its tests assert.
   */
  readonly keyContentHashes?: boolean;
}

/**
 * Builds every part from the configuration and wires them into the Express app: policies (a bad file stops start-up)
 * → app-role pools → audit ledger → token verifier → keys → sealer → dispatcher → pages → app. The one place that
 * does; `serve` (npm start) and the HTTP test harness (tests/support/gateway-harness.ts) both use it.
 */
export async function assemble(
  config: GatewayConfig,
  prepared: PreparedEnvironment,
  logger: Logger,
  options: AssembleOptions = {},
): Promise<Assembled> {
  const background = options.background ?? true;
  const pages = options.pages ?? true;
  const overrides = options.overrides ?? {};
  const timeouts = overrides.connectionTimeoutMs === undefined ? {} : { connectionTimeoutMillis: overrides.connectionTimeoutMs };
  const closers = closerStack(logger);
  try {
    const engine = loadPolicyCatalogue(config.policyDir);
    // Every pool and every client in it has an error listener (src/db/pool.ts): a killed database is a 503, not a crash.
    const pool = createPool(
      { connectionString: prepared.appDatabaseUrl, max: options.poolSize ?? 10, name: 'safeguard-gateway', ...timeouts },
      logger,
    );
    closers.push(() => pool.end());
    // The ledger has a pool of its own: a contribution holds a connection from `pool` in its transaction while it
    // waits for its ledger entry, so sharing one pool could exhaust it under load. At most two batches are on the wire
    // (src/audit/pg-ledger.ts): two connections.
    const ledgerPool = createPool(
      { connectionString: prepared.appDatabaseUrl, max: 2, name: 'safeguard-gateway-ledger', ...timeouts },
      logger,
    );
    closers.push(() => ledgerPool.end());
    const macKey = entryMacKey(config.ledger.macKey);
    const writer = new PgAuditLedger(ledgerPool, {
      macKey,
      ...(overrides.ledgerTimeoutMs ? { timeoutMs: overrides.ledgerTimeoutMs } : {}),
    });
    closers.push(() => writer.close());
    const ledger = overrides.ledger ? overrides.ledger(writer) : writer;
    const verifier = createTokenVerifier({
      agencies: prepared.agencies,
      audience: config.audience,
      allowInsecureIssuers: config.allowInsecureIssuers,
    });
    const keys = await loadGatewayKeys(config.dataDir, config.keys, { origin: config.ledger.origin });
    // Signed checkpoints: exported to a directory and its mirror, sent to the witnesses; one process seals
    // (SAFEGUARD_SEALER=off in the others).
    const sinks = directorySinks({ exportDir: config.checkpoints.exportDir, mirrorDir: config.checkpoints.mirrorDir });
    const cache = new SubtreeCache();
    const witnesses = parseWitnessList(config.ledger.witnesses);
    const sealing = { pool, keys, sinks, cache, macKey, witnesses };
    // The periodic sealer runs in a thread of its own (src/audit/checkpoints/sealer-thread.ts): under load its seals
    // (every new entry read back, re-hashed, MAC-checked, Merkle-hashed) would otherwise take the serving thread's time.
    const periodic = background && config.checkpoints.intervalMs > 0 && config.checkpoints.sealer;
    let checkpointer: Checkpointer | undefined;
    if (periodic && (options.sealer ?? 'thread') === 'thread') {
      const data = sealerThreadData(config, prepared.appDatabaseUrl, keys, {
        logLevel: logger.level,
        connectionTimeoutMs: overrides.connectionTimeoutMs,
      });
      checkpointer = startSealerThread({ data, logger, cache });
    } else if (periodic) {
      checkpointer = startCheckpointer({ ...sealing, intervalMs: config.checkpoints.intervalMs, logger });
    }
    if (checkpointer) {
      const started = checkpointer;
      closers.push(() => started.stop());
    }
    const pseudonymise = pseudonymiser(config.pseudonymKey);
    // Content hashes in the ledger are keyed: a small value cannot be confirmed by hashing guesses.
    if (overrides.keyContentHashes ?? true) useContentHashKey(config.pseudonymKey);
    // Notifications: the outbox dispatcher delivers signed webhooks (each attempt recorded in the ledger first).
    const notify = config.notifications;
    if (background) {
      const dispatcher = startDispatcher({
        pool,
        ledger,
        engine,
        keys,
        logger,
        pseudonymise,
        intervalMs: notify.intervalMs,
        allowInsecureWebhooks: notify.allowInsecureWebhooks,
        maxAttempts: notify.maxAttempts,
        backoffBaseMs: notify.backoffBaseMs,
        backoffMaxMs: notify.backoffMaxMs,
        timeoutMs: notify.timeoutMs,
      });
      closers.push(() => dispatcher.stop());
      // Referrals and requests for information past their time limits: flagged in the ledger, webhooks queued.
      const sweeper = startWorkflowSweeper({ pool, ledger, pseudonymise, logger, intervalMs: config.workflows.sweepIntervalMs });
      closers.push(() => sweeper.stop());
    }
    // The pages' sessions live in PostgreSQL: any instance continues a practitioner's session.
    const sessions = pages ? postgresSessionStore(pool, (message) => logger.error({ store: 'web_sessions' }, message)) : undefined;
    if (sessions) closers.push(async () => sessions.close());
    const web = !pages
      ? undefined
      : webRouter({
          engine,
          ledger,
          pool,
          verifier,
          pseudonymise,
          logger,
          agencies: prepared.agencies,
          workflows: config.workflows,
          oidc: {
            redirectUri: config.web.redirectUri,
            clientFor: (agencyId) => prepared.webClients[agencyId],
            audience: config.audience,
            allowInsecureIssuers: config.allowInsecureIssuers,
          },
          session: {
            secret: config.web.sessionSecret,
            secureCookie: config.web.redirectUri.startsWith('https:'),
            ...(sessions ? { store: sessions } : {}),
          },
          ...webProofs({ pool, keys, sinks, cache, witnesses, quorum: config.ledger.quorum, macKey }),
          schoolCalendar: notify.schoolCalendar,
        });
    // Refusals of unidentified callers: counted per source and window, one ledger entry per closed window.
    const refusals = anonymousRefusals(pool, config.refusalSummaryWindowMs);
    if (background) {
      const refusalFolder = startRefusalFolder({ pool, ledger, windowMs: config.refusalSummaryWindowMs, logger });
      closers.push(() => refusalFolder.stop());
    }
    const app = createApp({
      refusals,
      engine,
      ledger,
      verifier,
      pool,
      logger,
      pseudonymise,
      keys,
      ...(web ? { web } : {}),
      webhooks: { allowInsecure: notify.allowInsecureWebhooks },
      notifications: { schoolCalendar: notify.schoolCalendar },
      checkpoints: { sinks, cache, macKey, witnesses, quorum: config.ledger.quorum, ...(checkpointer ? { checkpointer } : {}) },
      limits: config.limits,
      clientCertificates: config.transport.clientCertificates,
      workflows: config.workflows,
    });
    const markClosing = (): void => {
      pool.markClosing();
      ledgerPool.markClosing();
    };
    return {
      app,
      engine,
      pool,
      ledger,
      keys,
      sinks,
      seal: () => sealWith(sealing),
      ...(checkpointer ? { checkpointer } : {}),
      refusals,
      markClosing,
      close: () => {
        markClosing();
        return closers.close();
      },
    };
  } catch (e) {
    await closers.close();
    throw e;
  }
}

export async function serve(config: GatewayConfig, prepared: PreparedEnvironment, logger: Logger): Promise<Serving> {
  const assembled = await assemble(config, prepared, logger);
  const { app, engine, refusals } = assembled;
  const closers = closerStack(logger);
  closers.push(() => assembled.close());
  try {
    // src/http/server.ts: requests Node's parser refuses are answered as problem+json too.
    const serverOptions = {
      logger,
      onRefused: (source: string, code: ErrorCode): void => {
        refusals
          .record(sourceOf(source), code, ERROR_STATUS[code])
          .catch((e: unknown) => logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'could not count a refused request'));
      },
    };
    const server = await listen(app, config.port, config.host, serverOptions);
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    // Mutual TLS: the same app on an HTTPS listener that asks for (and, with a CA, verifies) client certificates,
    // building requests and responses as the HTTP listener does (src/http/express-classes.ts).
    let tlsUrl: string | undefined;
    const tls = config.transport.tls;
    if (tls) {
      const secure = answerClientErrors(createTlsServer(tls, app, expressClasses(app)), serverOptions);
      await new Promise<void>((resolve, reject) => {
        secure.once('error', reject);
        secure.listen(tls.port, config.host, () => resolve());
      });
      closers.push(() => new Promise<void>((resolve) => secure.close(() => resolve())));
      const tlsAddress = secure.address();
      tlsUrl = `https://${config.host}:${typeof tlsAddress === 'object' && tlsAddress ? tlsAddress.port : tls.port}`;
      logger.info({ url: tlsUrl, clientCa: tls.clientCaFile ?? null }, 'HTTPS listener (mutual TLS) ready');
    }
    // Shutdown order: stop accepting and finish requests, stop the background tasks, settle the ledger, end the
    // pools — and only then (Prepared.close) stop the database. Connection errors while stopping are not errors.
    return {
      url: `http://${config.host}:${port}`,
      ...(tlsUrl ? { tlsUrl } : {}),
      policyVersion: engine.version,
      close: () => {
        assembled.markClosing();
        return closers.close();
      },
    };
  } catch (e) {
    await closers.close();
    throw e;
  }
}
