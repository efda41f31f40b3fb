/**
 * `node dist/src/cli/receipt-verify.js receipt.json --jwks jwks.json [--entry entry.json]`: checks an audit-ledger
 * receipt OFFLINE, trusting nothing but the gateway's published key set (GET /.well-known/jwks.json, saved to a file):
 *
 *   1. the signed checkpoint in the receipt verifies against the JWKS (ES256, typ sg-checkpoint+jwt);
 *   2. the entry's hash, hashed as a leaf, with the receipt's inclusion proof gives the signed Merkle root;
 *   3. with --entry (the entry as GET /v1/audit/entries/{id} returned it) the entry's content hashes to that hash.
 *
 *   exit 0  the receipt is valid            exit 1  it is not (why is printed)
 *   exit 2  it could not be checked (a file is missing or is not JSON, bad options)
 *
 * No network, no database.
 */
import { parseOrExitCode, runAndExit } from './process';
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { JSONWebKeySet } from 'jose';
import { verifyReceipt } from '../audit/receipts';
import { SafeguardError } from '../errors';

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

const processOutput: CliOutput = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

class InputError extends SafeguardError {
  readonly code = 'input_invalid' as const;
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read the ${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InputError(`the ${what} file ${file} is not JSON`);
  }
}

function asJwks(value: unknown, file: string): JSONWebKeySet {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw new InputError(`${file} is not a JWKS (an object with a "keys" array)`);
  }
  return value as JSONWebKeySet;
}

interface Options {
  readonly jwks: string;
  readonly entry?: string;
  readonly json: boolean;
}

/** A receipt the gateway issued before any checkpoint covered its entry (`sealed: false`): nothing to verify yet. */
function notSealedYet(receipt: unknown): { entryId: string; seq: number } | undefined {
  if (typeof receipt !== 'object' || receipt === null) return undefined;
  const r = receipt as { sealed?: unknown; entryId?: unknown; seq?: unknown; checkpoint?: unknown; inclusionProof?: unknown };
  // A receipt that says "not sealed" yet carries a checkpoint or a proof is not one the gateway wrote: verify it (and fail).
  if (r.sealed !== false || r.checkpoint !== undefined || r.inclusionProof !== undefined) return undefined;
  return typeof r.entryId === 'string' && typeof r.seq === 'number' ? { entryId: r.entryId, seq: r.seq } : undefined;
}

/** Runs the command; returns the exit code (0 valid, 1 not valid, 2 could not check, 3 not sealed yet). */
export async function main(argv: readonly string[], io: CliOutput = processOutput): Promise<number> {
  const program = new Command()
    .name('receipt-verify')
    .description('Verify a Safeguard Gateway audit-ledger receipt offline, against the published JWKS only.')
    .argument('<receipt>', 'the receipt (JSON from GET /v1/audit/entries/{id}/proof)')
    .requiredOption('--jwks <file>', "the gateway's published key set (JSON from GET /.well-known/jwks.json)")
    .option('--entry <file>', 'the entry itself (JSON from GET /v1/audit/entries/{id}): also prove its content')
    .option('--json', 'print the result as JSON', false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  if (argv.length <= 2) {
    // No arguments at all: say how to use it, rather than complain about the first missing option.
    io.out(program.helpInformation());
    return 2;
  }
  const early = parseOrExitCode(program, argv, { from: 'node' });
  if (early !== undefined) return early;
  const opts = program.opts<Options>();
  const [receiptFile] = program.args;
  try {
    const receipt = await readJson(receiptFile ?? '', 'receipt');
    const jwks = asJwks(await readJson(opts.jwks, 'JWKS'), opts.jwks);
    const entry = opts.entry ? await readJson(opts.entry, 'entry') : undefined;
    const unsealed = notSealedYet(receipt);
    if (unsealed) {
      io.out(
        opts.json
          ? `${JSON.stringify({ valid: null, sealed: false, ...unsealed }, null, 2)}\n`
          : `Receipt: NOT SEALED YET\n  Entry ${unsealed.entryId} (seq ${unsealed.seq}) is in the ledger, but no signed checkpoint covers it yet.\n  Fetch the receipt again after the next seal (GET /v1/audit/entries/{id}/proof), then check it here.\n`,
      );
      return 3;
    }
    const result = await verifyReceipt(receipt, jwks, entry === undefined ? {} : { entry });
    if (opts.json) {
      io.out(`${JSON.stringify(result.ok ? { valid: true, ...result.value } : { valid: false, reason: result.error }, null, 2)}\n`);
    } else if (result.ok) {
      const r = result.value;
      io.out(
        [
          'Receipt: VALID',
          `  Entry ${r.entryId} (seq ${r.seq}, hash ${r.entryHash})`,
          `  is entry ${r.seq} of the ledger checkpoint of ${r.treeSize} entries (root ${r.rootHash}),`,
          `  signed by key ${r.kid} at ${r.signedAt}.`,
          r.contentVerified ? "  The entry's content matches its hash." : "  (Give --entry to prove the entry's content as well.)",
          '',
        ].join('\n'),
      );
    } else {
      io.out(`Receipt: NOT VALID\n  ${result.error}\n`);
    }
    return result.ok ? 0 : 1;
  } catch (e) {
    io.err(`Could not check the receipt: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}

if (require.main === module) {
  runAndExit(() => main(process.argv), 'Could not check the receipt');
}
