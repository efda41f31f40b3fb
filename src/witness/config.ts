/**
 * The witness's configuration (its own process, its own settings; nothing is shared with the gateway):
 *   WITNESS_DIR   its data directory: its key (witness.key) and its state (state.json). Required.
 *   WITNESS_NAME  its key name (default witness.localhost/safeguard); use a name of your organisation's.
 *   WITNESS_HOST, WITNESS_PORT  where it listens (default 127.0.0.1:9123; 0 picks a free port).
 *   WITNESS_LOGS  the logs it witnesses: the gateway's note verifier keys (GET /v1/audit/checkpoint/key, and
 *                 /v1/audit/checkpoint/keys for older versions), comma-separated. The key name is the log's origin.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Env } from '../env';
import {
  ed25519FromSeed,
  isValidKeyName,
  newEd25519Seed,
  parseSignerKey,
  parseVerifierKey,
  signerKeyText,
  ALG_ED25519,
  type NoteSigner,
  type NoteVerifier,
} from '../audit/checkpoints/note';

export interface WitnessConfig {
  readonly dir: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly logs: ReadonlyMap<string, readonly NoteVerifier[]>;
}

export function loadWitnessConfig(env: Env): WitnessConfig {
  const dir = env.WITNESS_DIR;
  if (!dir) throw new Error('WITNESS_DIR is required: the witness keeps its key and state there (never the gateway data directory)');
  const name = env.WITNESS_NAME ?? 'witness.localhost/safeguard';
  if (!isValidKeyName(name)) throw new Error(`WITNESS_NAME "${name}" must have no spaces and no "+"`);
  const port = Number(env.WITNESS_PORT ?? '9123');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('WITNESS_PORT must be a port number');
  const logs = new Map<string, NoteVerifier[]>();
  for (const item of (env.WITNESS_LOGS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const v = parseVerifierKey(item);
    if (!v || v.alg !== ALG_ED25519) throw new Error(`WITNESS_LOGS: "${item}" is not an Ed25519 note verifier key`);
    logs.set(v.name, [...(logs.get(v.name) ?? []), v]);
  }
  if (logs.size === 0) throw new Error('WITNESS_LOGS must name at least one log verifier key');
  return { dir: path.resolve(dir), name, host: env.WITNESS_HOST ?? '127.0.0.1', port, logs };
}

/** The witness's key, created on first start in WITNESS_DIR/witness.key (0600). */
export function loadWitnessKey(dir: string, name: string): NoteSigner {
  const file = path.join(dir, 'witness.key');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const seed = newEd25519Seed();
    writeFileSync(file, `${signerKeyText(name, seed, ed25519FromSeed(seed).raw)}\n`, { mode: 0o600, flag: 'wx' });
  }
  const signer = parseSignerKey(readFileSync(file, 'utf8'));
  if (signer.name !== name) throw new Error(`${file} is the key of ${signer.name}, not of WITNESS_NAME ${name}`);
  return signer;
}
