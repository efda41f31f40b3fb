/** The audit-verify CLI against a real ledger: its exit codes (0 intact, 1 broken, 2 bad option), text and JSON reports. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'pg';
import { entryMacKey } from '../../src/audit/entry-mac';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { decision } from '../support/audit-entries';
import { compileForNode, ROOT } from '../support/compile-for-node';
import { createTestDatabase, type TestDatabase } from '../support/db';

const run = promisify(execFile);

describe('audit-verify CLI', () => {
  let db: TestDatabase;
  let cli: string;
  let buildDir: string;
  const CLI_MAC_KEY = 'cli-test-ledger-mac-key-0123456789abcdef';

  beforeAll(async () => {
    db = await createTestDatabase();
    buildDir = mkdtempSync(path.join(os.tmpdir(), 'sg-cli-build-'));
    cli = compileForNode('src/cli/audit-verify.ts', buildDir);
    const pool = new Pool({ connectionString: db.appUrl, max: 2 });
    // Written as the gateway writes them: with the entry MAC the CLI checks (LEDGER_MAC_KEY below).
    const ledger = new PgAuditLedger(pool, { macKey: entryMacKey(CLI_MAC_KEY) });
    await Promise.all(Array.from({ length: 20 }, (_, i) => ledger.append(decision(`req-cli-${i}`))));
    await ledger.close();
    await pool.end();
  });
  afterAll(async () => {
    await db.drop();
    rmSync(buildDir, { recursive: true, force: true });
  });

  const verify = (args: string[]) =>
    run(process.execPath, [cli, ...args], {
      env: {
        ...process.env,
        DATABASE_URL: db.ownerUrl,
        DATA_DIR: buildDir,
        LEDGER_MAC_KEY: CLI_MAC_KEY,
        NODE_PATH: path.join(ROOT, 'node_modules'),
      },
    }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '' }),
    );

  it('exits 0 with a readable report when intact, and prints JSON on request', async () => {
    const text = await verify([]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Audit ledger: chain intact to entry 20; not sealed yet$/m);
    expect(text.stdout).toMatch(/Entries checked: 20/);
    const json = await verify(['--json', '--batch-size', '3']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { summary: string; chain: unknown; checkpoints: { ok: boolean; checkpointsChecked: number } };
    expect(parsed.summary).toBe('chain intact to entry 20; not sealed yet');
    expect(parsed.chain).toEqual(expect.objectContaining({ ok: true, entriesChecked: 20, lastSeq: 20 }));
    expect(parsed.checkpoints).toEqual(expect.objectContaining({ ok: true, checkpointsChecked: 0 }));
  });

  it('exits 1 and names the first bad entry when the chain is broken, 2 on a bad option', async () => {
    await db.asOwner(`ALTER TABLE audit_ledger DISABLE TRIGGER USER`);
    await db.asOwner(`UPDATE audit_ledger SET outcome = 'permit' WHERE seq = 12`);
    await db.asOwner(`ALTER TABLE audit_ledger ENABLE TRIGGER USER`);
    const text = await verify([]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^Audit ledger: chain broken at entry 12: intact to entry 11/m);
    expect(text.stdout).toMatch(/First bad entry: seq 12/);
    expect(text.stdout).toMatch(/Intact to:\s+entry 11/);
    expect((await verify(['--batch-size', 'lots'])).code).toBe(2);
  });
});
