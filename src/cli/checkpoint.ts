/**
 * `node dist/src/cli/checkpoint.js <command>`: signed checkpoints of the audit ledger (src/audit/checkpoints/).
 *
 *   seal      seal every entry so far into a new signed checkpoint and export it
 *   verify    check every checkpoint: signature (JWKS), root against the entries now in the database, consistency,
 *             and — with the exported files — that the database was not rolled back or rewritten
 *   export    copy every checkpoint the export directories do not hold yet (e.g. a mirror added later)
 *
 *   exit 0  done / all good      exit 1  refused / problems found (printed)      exit 2  could not run
 *
 * Database: DATABASE_URL, or the embedded database under DATA_DIR (src/config.ts). The ledger key comes from
 * GATEWAY_LEDGER_KEY or DATA_DIR/keys (this command never creates a key). Export directories: CHECKPOINT_EXPORT_DIR
 * (default DATA_DIR/checkpoints) and CHECKPOINT_MIRROR_DIR.
 */
import { parseOrExitCode, runAndExit } from './process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import type { JSONWebKeySet } from 'jose';
import { Pool } from 'pg';
import { loadConfig, type GatewayConfig } from '../config';
import { resolveDatabase, type ResolvedDatabase } from '../db/resolve';
import { entryMacKey } from '../audit/entry-mac';
import { loadGatewayKeys, type GatewayKeys } from '../keys/gateway-keys';
import {
  CheckpointError,
  DirectoryCheckpointSink,
  directorySinks,
  exportAllCheckpoints,
  parseWitnessList,
  sealWith,
  verifyCheckpoints,
  type CheckpointSink,
  type CheckpointVerifyReport,
} from '../audit/checkpoints';
import { SafeguardError } from '../errors';

class UsageError extends SafeguardError {
  readonly code = 'usage' as const;
}

interface Common {
  readonly json: boolean;
  readonly verbose: boolean;
}

function configuredSinks(config: GatewayConfig): CheckpointSink[] {
  return directorySinks({ exportDir: config.checkpoints.exportDir, mirrorDir: config.checkpoints.mirrorDir });
}

async function existingKeys(config: GatewayConfig): Promise<GatewayKeys> {
  const dir = config.dataDir;
  if (!config.keys.ledger && !existsSync(path.join(dir, 'keys', 'ledger.private.jwk.json'))) {
    throw new UsageError(
      `there is no ledger key (GATEWAY_LEDGER_KEY, or ${path.join(dir, 'keys')}): start the gateway once, or give --jwks`,
    );
  }
  return loadGatewayKeys(dir, config.keys, { origin: config.ledger.origin });
}

async function withPool<T>(config: GatewayConfig, verbose: boolean, fn: (pool: Pool) => Promise<T>): Promise<T> {
  let db: ResolvedDatabase | undefined;
  let pool: Pool | undefined;
  try {
    db = await resolveDatabase(config.database, (line) => {
      if (verbose) process.stderr.write(`${line}\n`);
    });
    pool = new Pool({ connectionString: db.ownerUrl, max: 2, application_name: 'safeguard-checkpoint' });
    const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('public.ledger_checkpoints')::text AS t`);
    if (!exists.rows[0]?.t)
      throw new UsageError('there is no ledger_checkpoints table in this database (the gateway creates it when it starts)');
    return await fn(pool);
  } finally {
    await pool?.end().catch(() => undefined);
    await db?.stop().catch(() => undefined);
  }
}

export function describeVerifyReport(report: CheckpointVerifyReport): string {
  const lines = [
    `Signed checkpoints: ${report.ok ? (report.checkpointsChecked === 0 ? 'none yet (not sealed yet)' : 'match the database') : 'DO NOT match the database'}`,
    `  Checkpoints checked: ${report.checkpointsChecked} (${report.exportedCheckpoints} of them exported)`,
    `  Last entry:          ${report.lastSeq}`,
    `  Sealed and signed to: ${report.trustedUpTo === 0 ? 'not sealed yet' : `entry ${report.trustedUpTo}`}`,
  ];
  if (!report.ok) {
    lines.push('  Problems:');
    for (const p of report.problems) lines.push(`    tree size ${String(p.treeSize).padStart(10)}  ${p.problem.padEnd(19)}  ${p.detail}`);
    if (report.moreProblems > 0) lines.push(`    … and ${report.moreProblems} more`);
  }
  return `${lines.join('\n')}\n`;
}

async function seal(opts: Common): Promise<number> {
  const config = loadConfig();
  const keys = await existingKeys(config);
  const sinks = configuredSinks(config);
  return withPool(config, opts.verbose, async (pool) => {
    try {
      const r = await sealWith({
        pool,
        keys,
        sinks,
        macKey: entryMacKey(config.ledger.macKey),
        witnesses: parseWitnessList(config.ledger.witnesses),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else if (!r.checkpoint) process.stdout.write('The ledger is empty: nothing to seal.\n');
      else {
        process.stdout.write(
          `${r.created ? 'Sealed' : 'Nothing new since'} checkpoint of ${r.checkpoint.treeSize} entries, root ${r.checkpoint.rootHash}\n`,
        );
        for (const s of sinks) process.stdout.write(`  exported to ${s.name}\n`);
      }
      for (const f of r.sinkFailures) process.stderr.write(`  could not export to ${f.sink}: ${f.message}\n`);
      return 0;
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      process.stdout.write(`The ledger was NOT sealed (${e.code}): ${e.message}\n`);
      return 1;
    }
  });
}

async function verify(opts: Common & { jwks?: string; exportDir?: string }): Promise<number> {
  const config = loadConfig();
  let jwks: JSONWebKeySet;
  if (opts.jwks) {
    const parsed = JSON.parse(await readFile(opts.jwks, 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys))
      throw new UsageError(`${opts.jwks} is not a JWKS`);
    jwks = parsed as JSONWebKeySet;
  } else {
    jwks = (await existingKeys(config)).jwks();
  }
  const exportDir = opts.exportDir ?? config.checkpoints.exportDir;
  return withPool(config, opts.verbose, async (pool) => {
    const report = await verifyCheckpoints(pool, jwks, { exported: new DirectoryCheckpointSink(exportDir) });
    process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : describeVerifyReport(report));
    return report.ok ? 0 : 1;
  });
}

async function exportAll(opts: Common): Promise<number> {
  const config = loadConfig();
  const sinks = configuredSinks(config);
  return withPool(config, opts.verbose, async (pool) => {
    const done = await exportAllCheckpoints(pool, sinks);
    if (opts.json) process.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
    else for (const d of done) process.stdout.write(`${d.sink}: ${d.exported} checkpoint(s) exported\n`);
    return 0;
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  let action: Promise<number> | undefined;
  const program = new Command().name('checkpoint').description('Signed checkpoints of the Safeguard Gateway audit ledger.').exitOverride();
  const common = (c: Command): Command =>
    c.option('--json', 'print JSON', false).option('--verbose', 'show database start-up messages', false);
  common(program.command('seal').description('seal every entry so far into a new signed checkpoint and export it')).action((o: Common) => {
    action = seal(o);
  });
  common(program.command('verify').description('verify every checkpoint against the database and the exported files'))
    .option('--jwks <file>', "the published key set to trust (default: this gateway's own keys)")
    .option('--export-dir <dir>', 'exported checkpoints to compare with (default CHECKPOINT_EXPORT_DIR or DATA_DIR/checkpoints)')
    .action((o: Common & { jwks?: string; exportDir?: string }) => {
      action = verify(o);
    });
  common(program.command('export').description('copy every checkpoint the export directories do not hold yet')).action((o: Common) => {
    action = exportAll(o);
  });
  const early = parseOrExitCode(program, argv, { from: 'node' });
  if (early !== undefined) return early;
  if (!action) {
    program.outputHelp();
    return 2;
  }
  try {
    return await action;
  } catch (e) {
    process.stderr.write(`Could not complete: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}

if (require.main === module) {
  runAndExit(() => main(process.argv), 'Could not complete');
}
