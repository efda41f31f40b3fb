/**
 * `npm run seed`: load the synthetic Northshire demo story (seed/northshire.json) into the record store, so the
 * records exchange has something to show: police call-outs with the children present, a school wellbeing note,
 * a health visitor's note, a MARAC referral, a child protection plan, a court order and a refuge address.
 *
 * Uses DATABASE_URL, or the embedded database under DATA_DIR (default ./data) — see src/db/resolve.ts — as its
 * owner; runs the migrations first if the gateway has never started. Agencies come from the trust registry
 * (AGENCIES_FILE, default config/agencies.dev.json). Loading the same story twice changes nothing.
 *
 *   exit 0  loaded (or already loaded)     exit 2  could not load (no database, bad story, missing agency type)
 */
import { parseOrExitCode, runAndExit } from './process';
import path from 'node:path';
import { Command } from 'commander';
import { Pool } from 'pg';
import { PgAuditLedger } from '../audit/pg-ledger';
import { entryMacKey } from '../audit/entry-mac';
import { useContentHashKey } from '../audit/entry';
import { loadAgencyRegistry } from '../auth/registry';
import { loadConfig } from '../config';
import { pseudonymiser } from '../audit/pseudonym';
import { loadPolicyCatalogue } from '../policy';
import { seedWorkflows } from '../workflows/demo-seed';
import { runMigrations } from '../db/bootstrap';
import { resolveDatabase, type ResolvedDatabase } from '../db/resolve';
import { loadStory, seedStory, storyId } from '../records/demo-seed';

interface Options {
  readonly story: string;
  readonly verbose: boolean;
}

async function run(opts: Options): Promise<number> {
  let db: ResolvedDatabase | undefined;
  let pool: Pool | undefined;
  let ledger: PgAuditLedger | undefined;
  try {
    const story = loadStory(path.resolve(opts.story));
    const config = loadConfig();
    const registry = loadAgencyRegistry(config.agenciesFile);
    db = await resolveDatabase(config.database, (line) => {
      if (opts.verbose) process.stderr.write(`${line}\n`);
    });
    const applied = await runMigrations(db.ownerUrl);
    if (applied.length > 0) process.stdout.write(`Migrations applied: ${applied.join(', ')}\n`);
    pool = new Pool({ connectionString: db.ownerUrl, max: 3, application_name: 'safeguard-seed' });
    // pool.end() resolves before every socket has closed; the embedded server stopping right after would otherwise
    // surface as an unhandled 'error' on an idle client.
    pool.on('error', () => undefined);
    // As the gateway writes entries: with their MAC (else the sealer refuses them) and keyed content hashes.
    ledger = new PgAuditLedger(pool, { macKey: entryMacKey(config.ledger.macKey) });
    useContentHashKey(config.pseudonymKey);
    const result = await seedStory(pool, ledger, story, registry);
    if (result.alreadySeeded) {
      process.stdout.write('The demo story is already loaded: nothing changed.\n');
    } else {
      process.stdout.write(
        `Loaded the demo story: ${result.persons} people, ${result.households} household(s), ${result.records} records, ` +
          `${result.agreements} data sharing agreements, across ${result.agencies.length} agencies (${result.agencies.join(', ')}).\n`,
      );
    }
    for (const p of story.persons) process.stdout.write(`  person ${p.key.padEnd(8)} ${storyId('person', p.key)}\n`);
    // The workflows: last night's incidents for the daily triage list, an open referral, a request for information.
    const workflows = await seedWorkflows(
      {
        pool,
        ledger,
        engine: loadPolicyCatalogue(config.policyDir),
        pseudonymise: pseudonymiser(config.pseudonymKey),
        settings: config.workflows,
      },
      registry,
    );
    process.stdout.write(
      workflows.alreadySeeded
        ? 'The workflow demo is already loaded: nothing changed.\n'
        : `Workflows: ${workflows.incidents} overnight police incident(s) for today's triage list (/triage), an open referral for a team manager (/referrals, manager@northshire-csc), a request for information in progress (/information-requests, analyst@northshire-mash).\n`,
    );
    process.stdout.write('Try: GET /v1/subjects/<person id>/chronology?purpose=child_protection_enquiry with a northshire-csc token.\n');
    return 0;
  } catch (e) {
    process.stderr.write(`Could not load the demo story: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  } finally {
    await ledger?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await db?.stop().catch(() => undefined);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command()
    .name('seed')
    .description('Load the synthetic Northshire demo story into the Safeguard Gateway record store.')
    .option('--story <file>', 'the story file', 'seed/northshire.json')
    .option('--verbose', 'show database start-up messages', false)
    .exitOverride();
  const early = parseOrExitCode(program, argv);
  if (early !== undefined) return early;
  return run(program.opts<Options>());
}

runAndExit(() => main(process.argv), 'Could not load the demo story');
