/**
 * `npm run bench`: how fast is the gateway, with everything real? One run, loopback only, bounded time:
 *
 *   1. a fresh embedded PostgreSQL in a temp dir (src/db/embedded.ts), migrated (src/db/bootstrap.ts);
 *   2. local OpenID issuers for four agencies (./issuer.ts) minting real ES256 access tokens;
 *   3. the real gateway (`node dist/src/main.js`: `prepare` + `serve` of src/gateway.ts, logging JSON at info to a
 *      file) → autocannon POST /v1/decisions with several agencies' tokens: audited decisions/s, p50/p99 latency;
 *   4. the same load against a bare Express route (./bare.ts) on the same machine → ratio;
 *   5. ledger appends/s through PgAuditLedger vs raw batched multi-row INSERTs of the same rows (./ledger-bench.ts);
 *   6. verifyLedger speed on a ledger of --verify-entries entries (500,000 by default; the goal is a rate);
 *   7. optionally (--workers2) the gateway again with WORKERS=2; (--profile) a CPU profile of the gateway under load.
 *
 * Steps 3 and 4 take turns: the gateway and the bare route are measured in alternating slices of about 2.5 s
 * (./slices.ts), so that the ratio compares them on the same host at the same moments.
 *
 * Prints a table and writes bench/results/<timestamp>.json (git-ignored). Speed goals live here, never in tests.
 * BENCH_GATEWAY_NODE_OPTIONS adds Node options to the gateway's (e.g. --perf-basic-prof-only-functions, for perf).
 *
 * This file reads the mode and hands over: ./full-run.ts is the whole run (1-7), ./single-measures.ts the modes that
 * run one ledger measurement alone; ./options.ts holds the options below and the speed goals, ./gateway-load.ts the
 * load runs, ./decision-requests.ts the requests, ./processes.ts waiting, stopping and CPU, ./report.ts the table.
 *
 * Options: --duration=<s> (10) --connections=<n> (32) --append-entries=<n> (20000) --verify-entries=<n> (500000; 10000000 for the national-size check in
 *          docs/ARCHITECTURE.md, about 20 minutes)
 *          --workers2 --profile --log-level=<pino level> (info) --skip-verify --skip-ledger --denials (three of the four
 *          requests asked so that they are refused, with routes)
 *          --ledger-only [--ledger-rounds=<n> (3)] [--ledger-max-batch=<n> (256; the raw side uses the same)]: ONLY the
 *          ledger appends (5), n rounds on one fresh database each
 *          --verify-only: ONLY the verification measurement (--verify-entries=<n>), no gateway and no load
 *          --seal [--seal-entries=1000000[,10000000]] [--seal-load-seconds=10] [--seal-verify]: ONLY the ledger-sealing measurements
 *          (./seal-bench.ts: full vs incremental seal cost at those sizes, answer-to-sealed time under load)
 */
import { runFullBench } from './full-run';
import { parseOptions } from './options';
import { runLedgerBench, runSealBench, runVerifyOnly } from './single-measures';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  // `--seal`: only the ledger-sealing measurements (./seal-bench.ts), on their own database.
  if (argv.includes('--seal')) return runSealBench(argv);
  const o = parseOptions(argv);
  // `--ledger-only`: only the ledger appends (step 5), `--ledger-rounds` times, each ratio from its own round.
  if (argv.includes('--ledger-only')) return runLedgerBench(argv, o);
  // `--verify-only`: only the verification measurement (with --verify-entries), no gateway, no load.
  if (argv.includes('--verify-only')) return runVerifyOnly(o);
  return runFullBench(argv, o);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
