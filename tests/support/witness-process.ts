/**
 * A real witness for tests: `src/cli/witness.ts` (what `npm run witness` runs) compiled and started as a SEPARATE
 * node process with its own key and its own data directory, on a random free port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileForNode, ROOT } from './compile-for-node';
import { WitnessClient } from '../../src/audit/checkpoints';

let compiled: string | undefined;

export interface WitnessProcess {
  readonly url: string;
  readonly vkey: string;
  readonly dir: string;
  readonly client: WitnessClient;
  /** The witness as the gateway is configured with it (LEDGER_WITNESSES: `<url> <verifier key>`). */
  readonly spec: string;
  /** Stops the process (its data directory stays, so it can be started again with it). */
  stop(): Promise<void>;
}

export async function startWitness(logVkeys: readonly string[], options: { dir?: string; name?: string } = {}): Promise<WitnessProcess> {
  compiled ??= compileForNode('src/cli/witness.ts', mkdtempSync(path.join(os.tmpdir(), 'sg-witness-build-')));
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'sg-witness-data-'));
  const child: ChildProcess = spawn(process.execPath, [compiled], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_PATH: path.join(ROOT, 'node_modules'),
      WITNESS_DIR: dir,
      WITNESS_PORT: '0',
      WITNESS_NAME: options.name ?? 'witness.test/one',
      WITNESS_LOGS: logVkeys.join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = await new Promise<{ url: string; vkey: string }>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        try {
          resolve(JSON.parse(line) as { url: string; vkey: string });
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      }
    });
    child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`the witness exited with ${code}: ${err}`)));
  });
  return {
    ...started,
    dir,
    client: new WitnessClient(started.url, started.vkey),
    spec: `${started.url} ${started.vkey}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
