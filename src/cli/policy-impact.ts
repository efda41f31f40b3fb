/**
 * `npm run policy:impact -- --against <dir or git ref>`: replay the decision inputs recorded in the audit ledger
 * (decision entries: from, to, purpose, subject role, fields asked, facts; disclosure entries of stored records
 * likewise) under the catalogue in `--against` and under the current one (POLICY_DIR, default ./policies), and
 * report which outcomes change, per rule, with examples (src/policy/impact.ts).
 *
 *   --against policies-next/      a directory of policy files
 *   --against main~3              a git ref: its policies/ directory is read with `git show`
 *
 * Facts are taken as recorded, then the gateway's own derivations are applied at the time of the entry (the school-
 * day deadline, the s.47 implication), so older entries are replayed as the gateway would decide them now.
 * Uses DATABASE_URL, or the embedded database under DATA_DIR; only reads. Exit 0 (report printed), 2 (could not run).
 */
import { Command } from 'commander';
import { Pool } from 'pg';
import { loadConfig } from '../config';
import { resolveDatabase, type ResolvedDatabase } from '../db/resolve';
import { loadPolicyCatalogue } from '../policy';
import { describeImpact, policyImpact } from '../policy/impact';
import { catalogueDirFor, readInputs } from './policy-impact-inputs';
import { parseOrExitCode, runAndExit } from './process';

interface Options {
  readonly against: string;
  readonly policies?: string;
  readonly json: boolean;
  readonly examples: string;
  readonly verbose: boolean;
}

async function run(opts: Options): Promise<number> {
  const log = (line: string): void => {
    if (opts.verbose) process.stderr.write(`${line}\n`);
  };
  const config = loadConfig();
  const policyDir = opts.policies ?? config.policyDir;
  const against = catalogueDirFor(opts.against, policyDir);
  let db: ResolvedDatabase | undefined;
  let pool: Pool | undefined;
  try {
    const baseline = loadPolicyCatalogue(against.dir, { allowMissingSharing: true });
    const candidate = loadPolicyCatalogue(policyDir);
    db = await resolveDatabase(config.database, log);
    pool = new Pool({ connectionString: db.ownerUrl, max: 1, application_name: 'safeguard-policy-impact' });
    const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('public.audit_ledger')::text AS t`);
    if (!exists.rows[0]?.t) {
      process.stderr.write('There is no audit ledger in this database (the gateway creates it when it first starts).\n');
      return 2;
    }
    const inputs = await readInputs(pool);
    const report = policyImpact(inputs, baseline, candidate, Math.max(0, Number(opts.examples) || 0));
    process.stdout.write(
      opts.json ? `${JSON.stringify({ against: opts.against, policies: policyDir, ...report }, null, 2)}\n` : describeImpact(report),
    );
    return 0;
  } finally {
    against.cleanup();
    await pool?.end().catch(() => undefined);
    await db?.stop().catch(() => undefined);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command()
    .name('policy-impact')
    .description('Replay the decisions recorded in the audit ledger under another policy catalogue and report what changes.')
    .requiredOption('--against <dir or git ref>', 'the catalogue to compare with: a directory, or a git ref whose policies/ is used')
    .option('--policies <dir>', 'the current catalogue (default: POLICY_DIR or ./policies)')
    .option('--examples <n>', 'examples per rule', '3')
    .option('--json', 'print the report as JSON', false)
    .option('--verbose', 'show database start-up messages', false)
    .exitOverride();
  const early = parseOrExitCode(program, argv);
  if (early !== undefined) return early;
  return run(program.opts<Options>());
}

if (require.main === module) runAndExit(() => main(process.argv), 'Could not work out the policy change impact');
