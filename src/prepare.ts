/**
 * The first half of start-up (see src/gateway.ts): database (embedded or DATABASE_URL) → migrations as owner →
 * development OpenID provider (if enabled) → trust registry (config → database). Runs once, in the primary process;
 * what it prepares is handed to every serving process as plain data (`PreparedEnvironment`).
 */
import type { Logger } from 'pino';
import type { GatewayConfig } from './config';
import { resolveDatabase } from './db/resolve';
import { prepareDatabase } from './db/bootstrap';
import { syncAgencies } from './db/registry-sync';
import { loadAgencyRegistry, type Agency } from './auth/registry';
import { loadWebClients } from './auth/web-clients';
import type { DevIdp } from './devidp/dev-idp';
import { closerStack, type PreparedEnvironment } from './gateway';

export interface Prepared {
  readonly environment: PreparedEnvironment;
  readonly devIdp?: DevIdp;
  /** Synchronous, first thing on a stop signal: from now on the database stopping is expected (no restart). */
  beginShutdown(): void;
  close(): Promise<void>;
}

export async function prepare(config: GatewayConfig, logger: Logger): Promise<Prepared> {
  const closers = closerStack(logger);
  try {
    const database = await resolveDatabase(config.database, (line) => logger.debug({ postgres: line }), logger);
    closers.push(() => database.stop());
    const db = await prepareDatabase({ ownerUrl: database.ownerUrl, ...(config.appDatabaseUrl ? { appUrl: config.appDatabaseUrl } : {}) });
    if (db.applied.length) logger.info({ migrations: db.applied }, 'migrations applied');

    let agencies: readonly Agency[] = loadAgencyRegistry(config.agenciesFile);
    let devIdp: DevIdp | undefined;
    if (config.devIdp.enabled) {
      // Loaded only when enabled: oidc-provider and its Koa stack are a large part of the start-up otherwise.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { startDevIdp } = require('./devidp/dev-idp') as typeof import('./devidp/dev-idp');
      const idp = await startDevIdp({
        host: '127.0.0.1',
        port: config.devIdp.port,
        agencies,
        audience: config.audience,
        dataDir: config.dataDir,
        webRedirectUri: config.web.redirectUri,
        // With the gateway's mutual TLS configured, the dev IdP issues certificate-bound tokens on its own TLS listener.
        ...(config.transport.tls?.clientCaFile
          ? {
              tls: {
                certFile: config.transport.tls.certFile,
                keyFile: config.transport.tls.keyFile,
                caFile: config.transport.tls.clientCaFile,
                port: config.devIdp.tlsPort,
              },
            }
          : {}),
      });
      if (idp.tlsBaseUrl) logger.info({ url: idp.tlsBaseUrl }, 'development IdP mutual-TLS listener (certificate-bound tokens)');
      devIdp = idp;
      closers.push(() => idp.close());
      agencies = agencies.map((a) => ({ ...a, issuer: idp.issuerFor(a.id) }));
    }
    await syncAgencies(db.ownerUrl, agencies);
    return {
      environment: {
        appDatabaseUrl: db.appUrl,
        agencies,
        embeddedDatabase: database.embedded,
        ...(devIdp ? { devIdpBaseUrl: devIdp.baseUrl } : {}),
        // Real identity providers: the registry's webClient settings; the development IdP's demo agencies: its own.
        webClients: {
          ...loadWebClients(agencies),
          ...Object.fromEntries(
            agencies.flatMap((a) => {
              const client = a.webClient ? undefined : devIdp?.webClient(a.id);
              return client ? [[a.id, client]] : [];
            }),
          ),
        },
      },
      ...(devIdp ? { devIdp } : {}),
      beginShutdown: () => database.beginShutdown(),
      close: () => {
        database.beginShutdown();
        return closers.close();
      },
    };
  } catch (e) {
    await closers.close();
    throw e;
  }
}
