/**
 * The bench's command-line options (parsed by bench/run.ts; documented in its header), its speed goals, and the
 * settings every part of it shares: the repository root, the tokens' audience, the bench databases' app password.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const AUDIENCE = 'urn:safeguard-gateway';
export const APP_PASSWORD = 'bench-app-password-not-secret';

/** verifyPerSecond: 1,000,000 entries in under 60 s, whatever --verify-entries is. */
export const GOALS = {
  decisionsPerSecond: 2000,
  p99Ms: 50,
  ratioToBare: 0.4,
  ledgerToRaw: 0.6,
  verifyPerSecond: 1_000_000 / 60,
  readyMs: 2000,
};

export interface Options {
  duration: number;
  connections: number;
  appendEntries: number;
  verifyEntries: number;
  workers2: boolean;
  profile: boolean;
  logLevel: string;
  skipVerify: boolean;
  skipLedger: boolean;
  /** Ask the three s.47 requests without the fact that makes them lawful: denials with routes. */
  denials: boolean;
  /**
   * Build the bare route's requests and responses as the gateway's servers do (src/http/express-classes.ts) rather
   * than as a default Express server does: the same framework without its per-request prototype change, for a
   * stricter baseline than the default (which is what `ratioToBare` is against unless this is given).
   */
  barePresetPrototypes: boolean;
}

export function parseOptions(argv: readonly string[]): Options {
  const value = (name: string, fallback: string): string => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
  const int = (name: string, fallback: number): number => {
    const n = Number(value(name, String(fallback)));
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number`);
    return n;
  };
  return {
    duration: Math.min(int('duration', 10), 120),
    connections: Math.min(int('connections', 32), 1000),
    appendEntries: int('append-entries', 20_000),
    // Half a million by default so that the whole bench stays within about six minutes; the rate is what is judged.
    verifyEntries: int('verify-entries', 500_000),
    workers2: argv.includes('--workers2'),
    profile: argv.includes('--profile'),
    logLevel: value('log-level', 'info'),
    skipVerify: argv.includes('--skip-verify'),
    skipLedger: argv.includes('--skip-ledger'),
    denials: argv.includes('--denials'),
    barePresetPrototypes: argv.includes('--bare-preset-prototypes'),
  };
}

/**
 * The Node options `npm start` runs the gateway with (package.json's start script, between `node` and
 * `dist/src/main.js`): the bench runs the gateway as `npm start` does, so that what it measures is what is deployed.
 */
export function gatewayNodeOptions(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts?: { start?: string } };
  const start = pkg.scripts?.start ?? '';
  const match = /(?:^|&&\s*)node((?:\s+--[\w-]+(?:=\S+)?)*)\s+dist\/src\/main\.js\b/.exec(start);
  if (!match) throw new Error(`package.json's start script does not run node … dist/src/main.js: ${start}`);
  return (match[1] ?? '')
    .trim()
    .split(/\s+/)
    .filter((o) => o !== '');
}
