/**
 * `npm run audit:verify`: recompute the audit ledger's hash chain from the database and say whether it is intact.
 *
 *   exit 0  intact          exit 1  not intact (the first bad entry and what is wrong are printed)
 *   exit 2  could not verify (no database, no ledger, bad option)
 *
 * Then checks every signed checkpoint (signature against the gateway's ledger key from DATA_DIR or GATEWAY_LEDGER_KEY,
 * root against the entries now in the database, consistency, and the exported copies in CHECKPOINT_EXPORT_DIR,
 * default DATA_DIR/checkpoints) so that a database rolled back or rewritten is found even where the chain is whole.
 *
 * Uses DATABASE_URL, or the embedded database under DATA_DIR (default ./data) — see src/config.ts. It connects
 * with the URL it is given and only reads, inside a READ ONLY transaction.
 */
import { describeVerification } from '../audit/verification-wording';
import { parseOrExitCode, runAndExit } from './process';
import { Command, InvalidArgumentError } from 'commander';
import { SingleBar } from 'cli-progress';
import { Pool } from 'pg';
import { loadConfig } from '../config';
import { resolveDatabase, type ResolvedDatabase } from '../db/resolve';
import { verifyLedger, type VerifyReport } from '../audit/verify';
import { directorySinks, parseWitnessList, verifyWith } from '../audit/checkpoints';
import { entryMacKey } from '../audit/entry-mac';
import { describeVerifyReport } from './checkpoint';
import { loadGatewayKeys } from '../keys/gateway-keys';

/** Below this many entries the check is quick and a progress bar would only flicker. */
const PROGRESS_THRESHOLD = 20_000;

interface Options {
  readonly json: boolean;
  readonly batchSize: number;
  readonly progress: boolean;
  readonly verbose: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new InvalidArgumentError('must be a whole number from 1 to 1000000');
  return n;
}

function describe(report: VerifyReport): string {
  const lines: string[] = [];
  if (report.ok) {
    lines.push('Hash chain: intact');
    lines.push(`  Entries checked: ${report.entriesChecked}`);
    lines.push(`  Last entry:      seq ${report.lastSeq}, hash ${report.lastHash}`);
    lines.push('  Compare the last entry with a receipt or checkpoint held outside the database to rule out');
    lines.push('  removal of the newest entries.');
  } else {
    lines.push('Hash chain: NOT intact');
    lines.push(`  Entries checked: ${report.entriesChecked} (last seq ${report.lastSeq})`);
    lines.push(`  First bad entry: seq ${report.firstBadSeq ?? '?'}`);
    lines.push(`  Intact to:       entry ${report.trustedUpTo}`);
    lines.push('  Problems:');
    for (const p of report.problems) lines.push(`    seq ${String(p.seq).padStart(8)}  ${p.problem.padEnd(11)}  ${p.detail}`);
    if (report.moreProblems > 0) lines.push(`    … and ${report.moreProblems} more`);
  }
  return `${lines.join('\n')}\n`;
}

async function run(opts: Options): Promise<number> {
  const log = (line: string): void => {
    if (opts.verbose) process.stderr.write(`${line}\n`);
  };
  let db: ResolvedDatabase | undefined;
  let pool: Pool | undefined;
  let bar: SingleBar | undefined;
  try {
    const config = loadConfig();
    db = await resolveDatabase(config.database, log);
    pool = new Pool({ connectionString: db.ownerUrl, max: 1, application_name: 'safeguard-audit-verify' });
    const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('public.audit_ledger')::text AS t`);
    if (!exists.rows[0]?.t) {
      process.stderr.write('There is no audit ledger in this database (the gateway creates it when it first starts).\n');
      return 2;
    }
    const showProgress = opts.progress && process.stderr.isTTY === true;
    const report = await verifyLedger(pool, {
      batchSize: opts.batchSize,
      onProgress: (checked, total) => {
        if (!showProgress) return;
        if (!bar && total >= PROGRESS_THRESHOLD) {
          bar = new SingleBar({
            stream: process.stderr,
            format: 'Verifying audit ledger [{bar}] {percentage}% | {value}/{total} entries | ETA {eta_formatted}',
            clearOnComplete: true,
            hideCursor: true,
          });
          bar.start(total, checked);
        }
        bar?.setTotal(total);
        bar?.update(checked);
      },
    });
    bar?.stop();
    bar = undefined;
    const keys = await loadGatewayKeys(config.dataDir, config.keys, { origin: config.ledger.origin });
    // Every copy the configuration names: the export directory, the mirror, and the witnesses.
    const checkpoints = await verifyWith({
      pool,
      keys,
      sinks: directorySinks({ exportDir: config.checkpoints.exportDir, mirrorDir: config.checkpoints.mirrorDir }),
      witnesses: parseWitnessList(config.ledger.witnesses),
      quorum: config.ledger.quorum,
      macKey: entryMacKey(config.ledger.macKey),
    });
    const summary = describeVerification(report, checkpoints);
    process.stdout.write(
      opts.json
        ? `${JSON.stringify({ summary, chain: report, checkpoints }, null, 2)}\n`
        : `Audit ledger: ${summary}\n\n${describe(report)}${describeVerifyReport(checkpoints)}`,
    );
    return report.ok && checkpoints.ok ? 0 : 1;
  } catch (e) {
    bar?.stop();
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`Could not verify the audit ledger: ${message}\n`);
    return 2;
  } finally {
    await pool?.end().catch(() => undefined);
    await db?.stop().catch(() => undefined);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command()
    .name('audit-verify')
    .description('Verify the hash chain of the Safeguard Gateway audit ledger (DATABASE_URL, or the embedded ./data database).')
    .option('--json', 'print the report as JSON', false)
    .option('--batch-size <n>', 'entries read per page', positiveInt, 5000)
    .option('--no-progress', 'never show a progress bar')
    .option('--verbose', 'show database start-up messages', false)
    .exitOverride();
  const early = parseOrExitCode(program, argv);
  if (early !== undefined) return early;
  return run(program.opts<Options>());
}

runAndExit(() => main(process.argv), 'Could not verify the audit ledger');
