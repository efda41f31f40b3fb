/**
 * Chain integrity under concurrent appenders in several OS processes: four child processes (each its own pool and
 * PgAuditLedger, different batch sizes, entry MACs on) and this process append at the same time, in waves of
 * concurrent callers, so batches of different processes interleave on the advisory lock and every writer's
 * settle-after-the-next-INSERT path runs. Afterwards: one gapless, intact chain; every appender got back exactly
 * the entry stored at its seq (id, hash, predecessor); every MAC is valid; time never goes backwards in seq.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'pg';
import { compileForNode, ROOT } from '../support/compile-for-node';
import { createTestDatabase, type TestDatabase } from '../support/db';
import type { AppendedEntry } from '../../src/audit/entry';
import { entryMacKey, entryMacValid } from '../../src/audit/entry-mac';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { verifyLedger } from '../../src/audit/verify';

const run = promisify(execFile);
const MAC_SECRET = 'ledger-concurrency-test-mac-secret-0123456789';

interface Returned {
  readonly seq: number;
  readonly entryId: string;
  readonly entryHash: string;
  readonly prevHash: string;
}

describe('ledger chain under concurrent appenders in several processes', () => {
  let db: TestDatabase;
  let buildDir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    buildDir = mkdtempSync(path.join(os.tmpdir(), 'sg-ledger-concurrency-'));
  });
  afterAll(async () => {
    await db.drop();
    rmSync(buildDir, { recursive: true, force: true });
  });

  it('keeps one gapless, intact, MAC-valid chain, and gives every appender its own stored entry', async () => {
    const ledgerJs = compileForNode('src/audit/pg-ledger.ts', buildDir);
    const macJs = compileForNode('src/audit/entry-mac.ts', buildDir);
    const childScript = path.join(buildDir, 'concurrent-child.js');
    writeFileSync(
      childScript,
      `
      const { Pool } = require('pg');
      const { PgAuditLedger } = require(${JSON.stringify(ledgerJs)});
      const { entryMacKey } = require(${JSON.stringify(macJs)});
      (async () => {
        const pool = new Pool({ connectionString: process.env.APP_URL, max: 2 });
        const ledger = new PgAuditLedger(pool, { maxBatch: Number(process.env.MAX_BATCH), macKey: entryMacKey(process.env.MAC_SECRET) });
        const out = [];
        for (let wave = 0; wave < 4; wave++) {
          const got = await Promise.all(Array.from({ length: 75 }, (_, i) => ledger.append({
            kind: 'decision', outcome: i % 3 ? 'permit' : 'deny', requestId: 'req-' + process.env.TAG + '-' + wave + '-' + i,
            actor: null, purpose: 'marac', rules: ['rule-"q"', 'rule-\\\\b'], payload: { wave, i, note: 'é😀"\\\\' },
          })));
          out.push(...got.map((e) => ({ seq: e.seq, entryId: e.entryId, entryHash: e.entryHash, prevHash: e.prevHash })));
        }
        await ledger.close();
        await pool.end();
        process.stdout.write(JSON.stringify(out));
      })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
    `,
    );
    const child = (tag: string, maxBatch: number) =>
      run(process.execPath, [childScript], {
        env: {
          ...process.env,
          APP_URL: db.appUrl,
          TAG: tag,
          MAX_BATCH: String(maxBatch),
          MAC_SECRET,
          NODE_PATH: path.join(ROOT, 'node_modules'),
        },
      }).then(({ stdout }) => JSON.parse(stdout) as Returned[]);

    const pool = new Pool({ connectionString: db.appUrl, max: 2 });
    const ledger = new PgAuditLedger(pool, { maxBatch: 16, macKey: entryMacKey(MAC_SECRET) });
    const inProcess = async (): Promise<AppendedEntry[]> => {
      const out: AppendedEntry[] = [];
      for (let wave = 0; wave < 6; wave++) {
        out.push(
          ...(await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              ledger.append({ kind: 'decision', outcome: 'permit', requestId: `req-main-${wave}-${i}`, actor: null, payload: { wave, i } }),
            ),
          )),
        );
      }
      return out;
    };
    let returned: Returned[];
    try {
      const all = await Promise.all([inProcess(), child('a', 256), child('b', 64), child('c', 7), child('d', 1)]);
      returned = all.flat();
    } finally {
      await ledger.close();
      await pool.end();
    }

    expect(returned).toHaveLength(300 + 4 * 300);
    const rows = await db.asOwner<{
      seq: string;
      entry_id: string;
      entry_hash: string;
      prev_hash: string;
      entry_mac: string | null;
      t: string;
    }>(
      `SELECT seq::text, entry_id::text, entry_hash, prev_hash, entry_mac, (extract(epoch FROM recorded_at) * 1000)::bigint::text AS t
         FROM audit_ledger ORDER BY audit_ledger.seq`,
    );
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
    expect(rows).toHaveLength(returned.length);
    const bySeq = new Map(rows.map((r) => [Number(r.seq), r]));
    for (const r of returned) {
      const stored = bySeq.get(r.seq);
      expect(stored && { entryId: stored.entry_id, entryHash: stored.entry_hash, prevHash: stored.prev_hash }).toEqual({
        entryId: r.entryId,
        entryHash: r.entryHash,
        prevHash: r.prevHash,
      });
    }
    const key = entryMacKey(MAC_SECRET);
    expect(rows.filter((r) => !entryMacValid(key, r.entry_hash, r.entry_mac))).toEqual([]);
    for (let i = 1; i < rows.length; i++) {
      expect((rows[i] as { prev_hash: string }).prev_hash).toBe((rows[i - 1] as { entry_hash: string }).entry_hash);
      expect(Number((rows[i] as { t: string }).t)).toBeGreaterThanOrEqual(Number((rows[i - 1] as { t: string }).t));
    }
    const verifyPool = new Pool({ connectionString: db.appUrl, max: 1 });
    try {
      const report = await verifyLedger(verifyPool, { batchSize: 333 });
      expect(report).toEqual(expect.objectContaining({ ok: true, lastSeq: returned.length, entriesChecked: returned.length }));
    } finally {
      await verifyPool.end();
    }
  });
});
