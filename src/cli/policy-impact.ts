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
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { Pool } from 'pg';
import { loadConfig } from '../config';
import { resolveDatabase, type ResolvedDatabase } from '../db/resolve';
import { deriveFacts } from '../decisions/derive-facts';
import { DEFAULT_SCHOOL_CALENDAR } from '../notifications/school-day';
import { loadPolicyCatalogue } from '../policy';
import { describeImpact, policyImpact, type ReplayInput } from '../policy/impact';
import { englandToday } from '../policy/obligation';
import { isAgencyType, isField, isPurpose, isRole, isSubjectRole, type Facts } from '../vocabulary/vocabulary';
import { parseOrExitCode, runAndExit } from './process';

interface Options {
  readonly against: string;
  readonly policies?: string;
  readonly json: boolean;
  readonly examples: string;
  readonly verbose: boolean;
}

/** A directory as it is, or a git ref's copy of the policy directory in a temporary directory. */
export function catalogueDirFor(against: string, policyDir: string): { dir: string; cleanup: () => void } {
  if (existsSync(against) && statSync(against).isDirectory()) return { dir: against, cleanup: () => undefined };
  const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let commit: string;
  try {
    commit = git('rev-parse', '--verify', '--quiet', `${against}^{commit}`).trim();
  } catch {
    throw new Error(`"${against}" is neither a directory nor a git commit or ref`);
  }
  const root = git('rev-parse', '--show-toplevel').trim();
  const rel = path.relative(root, path.resolve(policyDir)).split(path.sep).join('/');
  const names = git('ls-tree', '--name-only', commit, `${rel}/`).split('\n').map((n) => n.trim()).filter((n) => /\.ya?ml$/.test(n));
  if (names.length === 0) throw new Error(`${against} has no policy files under ${rel}/`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-policy-impact-'));
  for (const name of names) writeFileSync(path.join(dir, path.basename(name)), git('show', `${commit}:${name}`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

interface LedgerRow {
  entry_id: string;
  recorded_at: Date;
  kind: string;
  role: string | null;
  purpose: string | null;
  payload: Record<string, unknown>;
}

/** The decision input an entry recorded, or undefined when it holds none (refusals, reads of own records…). */
export function inputOf(row: LedgerRow): ReplayInput | undefined {
  const p = row.payload;
  const to = p.to as { agencyType?: unknown; role?: unknown } | undefined;
  const from = row.kind === 'decision' ? p.from : p.owningAgencyType;
  const fields = row.kind === 'decision'
    ? p.fieldsRequested
    : [...((p.fieldsDisclosed as unknown[] | undefined) ?? []), ...(((p.withheldFields as Array<{ field?: unknown }> | undefined) ?? []).map((w) => w.field))];
  if (row.kind === 'disclosure' && p.access !== 'policy') return undefined;
  if (!isAgencyType(from) || !to || !isAgencyType(to.agencyType) || !isRole(to.role) || !isPurpose(row.purpose) || !isSubjectRole(p.subjectRole)) return undefined;
  if (!Array.isArray(fields) || fields.length === 0 || !fields.every(isField)) return undefined;
  const recorded = (p.facts && typeof p.facts === 'object' ? p.facts : {}) as Facts;
  const facts = deriveFacts(recorded, { now: row.recorded_at, calendar: DEFAULT_SCHOOL_CALENDAR, assertedBy: 'record' }).facts;
  const role = row.kind === 'decision' && isRole(row.role) ? row.role : undefined;
  return {
    entryId: row.entry_id,
    input: {
      from: { agencyType: from, ...(role ? { role } : {}) },
      to: { agencyType: to.agencyType, role: to.role },
      purpose: row.purpose,
      subjectRole: p.subjectRole,
      fields: [...new Set(fields)],
      facts: { ...facts, ...(p.facts && typeof p.facts === 'object' && 'perpetrator_joined_household_with_children' in p.facts ? { perpetrator_joined_household_with_children: (p.facts as Facts).perpetrator_joined_household_with_children } : {}) } as Facts,
      on: englandToday(row.recorded_at),
    },
  };
}

export async function readInputs(pool: Pool): Promise<ReplayInput[]> {
  const out: ReplayInput[] = [];
  let after = 0;
  for (;;) {
    const { rows } = await pool.query<LedgerRow & { seq: string }>(
      `SELECT seq, entry_id, recorded_at, kind, role, purpose, payload FROM audit_ledger
        WHERE kind IN ('decision', 'disclosure') AND seq > $1 ORDER BY seq LIMIT 5000`,
      [after],
    );
    if (rows.length === 0) return out;
    for (const row of rows) {
      const input = inputOf(row);
      if (input) out.push(input);
    }
    after = Number(rows[rows.length - 1]?.seq ?? after);
  }
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
    process.stdout.write(opts.json ? `${JSON.stringify({ against: opts.against, policies: policyDir, ...report }, null, 2)}\n` : describeImpact(report));
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
