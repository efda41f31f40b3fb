/**
 * `npm run keys:rotate -- <ledger|note|notifications>`: writes the next version of a signing key in DATA_DIR/keys
 * (src/keys/gateway-keys.ts `rotateKey`; the old versions stay, and stay published) and records the rotation in the
 * audit ledger (kind `key_rotation`: which key, the new version, the new and previous public key). Restart the
 * gateway to sign with the new version. A key given in the environment (GATEWAY_<USE>_KEY) is rotated by the operator
 * instead. Exit 0 rotated and recorded, 1 not recorded (the new key is then NOT kept), 2 bad usage.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { loadConfig } from '../config';
import { resolveDatabase } from '../db/resolve';
import { entryMacKey } from '../audit/entry-mac';
import { PgAuditLedger } from '../audit/pg-ledger';
import { rotateKey, type RotatableKey } from '../keys/gateway-keys';
import { runAndExit } from './process';

const WHICH: readonly RotatableKey[] = ['ledger', 'note', 'notifications'];

async function main(argv: readonly string[]): Promise<number> {
  const which = argv[0] as RotatableKey | undefined;
  if (!which || !WHICH.includes(which) || argv.length > 1) {
    process.stderr.write(`usage: npm run keys:rotate -- <${WHICH.join('|')}>\n`);
    return 2;
  }
  const config = loadConfig();
  const db = await resolveDatabase(config.database, () => undefined);
  const pool = new Pool({ connectionString: db.ownerUrl, max: 2, application_name: 'safeguard-keys-rotate' });
  pool.on('error', () => undefined);
  const ledger = new PgAuditLedger(pool, { macKey: entryMacKey(config.ledger.macKey) });
  try {
    const rotated = await rotateKey(config.dataDir, which, config.ledger.origin);
    try {
      const entry = await ledger.append({
        kind: 'key_rotation',
        outcome: 'rotated',
        requestId: `keys-rotate-${randomUUID()}`,
        actor: null,
        payload: { key: rotated.key, version: rotated.version, publicKey: rotated.publicKey, previous: rotated.previous },
      });
      process.stdout.write(
        `${JSON.stringify({ rotated: rotated.key, version: rotated.version, publicKey: rotated.publicKey, previous: rotated.previous, ledgerEntry: entry.entryId, seq: entry.seq })}\n`,
      );
      process.stdout.write(
        'Restart the gateway to sign with the new key.' +
          (which === 'note' ? ' Give the witnesses the new note key too (WITNESS_LOGS).' : '') +
          '\n',
      );
      return 0;
    } catch (e) {
      // Unrecorded, the rotation must not take effect: remove the new key file.
      const file =
        which === 'note'
          ? `note.v${rotated.version}.key`
          : rotated.version === 1
            ? `${which}.private.jwk.json`
            : `${which}.v${rotated.version}.private.jwk.json`;
      rmSync(path.join(config.dataDir, 'keys', file), { force: true });
      process.stderr.write(
        `the rotation could not be recorded in the ledger, so the new key was removed: ${e instanceof Error ? e.message : String(e)}\n`,
      );
      return 1;
    }
  } finally {
    await ledger.close();
    await pool.end().catch(() => undefined);
    await db.stop().catch(() => undefined);
  }
}

runAndExit(() => main(process.argv.slice(2)), 'keys:rotate');
