/**
 * The audit ledger against real PostgreSQL: chained, durable appends; group commit under concurrency (one process,
 * several ledgers with separate pools, and separate OS processes); fail-closed appends. The auditor's queries are in
 * audit-queries.test.ts, the audit-verify CLI in audit-verify-cli.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { compileForNode, ROOT } from '../support/compile-for-node';
import { Client, Pool } from 'pg';
import { AuditUnavailableError, contentHash, entryHash, GENESIS_HASH, type AppendedEntry } from '../../src/audit/entry';
import { LEDGER_LOCK_KEY, PgAuditLedger } from '../../src/audit/pg-ledger';
import { toHashInput, LEDGER_COLUMNS, type LedgerRow } from '../../src/audit/rows';
import { verifyLedger } from '../../src/audit/verify';
import { decision } from '../support/audit-entries';
import { createTestDatabase, type TestDatabase } from '../support/db';

const run = promisify(execFile);

async function ownerRows(db: TestDatabase): Promise<LedgerRow[]> {
  return db.asOwner<LedgerRow & Record<string, unknown>>(`SELECT ${LEDGER_COLUMNS} FROM audit_ledger ORDER BY seq`);
}

function expectGapless(seqs: number[], from: number): void {
  const sorted = [...seqs].sort((a, b) => a - b);
  expect(new Set(sorted).size).toBe(seqs.length);
  expect(sorted).toEqual(Array.from({ length: seqs.length }, (_, i) => from + i));
}

describe('audit ledger', () => {
  let db: TestDatabase;
  let pool: Pool;
  let ledger: PgAuditLedger;
  let buildDir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new Pool({ connectionString: db.appUrl, max: 5 });
    ledger = new PgAuditLedger(pool);
    buildDir = mkdtempSync(path.join(os.tmpdir(), 'sg-ledger-build-'));
  });
  afterAll(async () => {
    await ledger.close();
    await pool.end();
    await db.drop();
    rmSync(buildDir, { recursive: true, force: true });
  });

  it('is created by its migration with the documented shape, comment and least privilege', async () => {
    const migrations = await db.asOwner<{ name: string }>('SELECT name FROM schema_migrations ORDER BY id');
    expect(migrations.map((m) => m.name).slice(0, 2)).toEqual(['AppRoleAndAgencies1763880000000', 'AuditLedger1763880100000']);
    const [comment] = await db.asOwner<{ c: string }>(`SELECT obj_description('audit_ledger'::regclass) AS c`);
    expect(comment?.c).toMatch(/append-only/i);
    const privileges = await db.asOwner<{ p: string; has: boolean }>(
      `SELECT p, has_table_privilege('safeguard_app', 'audit_ledger', p) AS has
         FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) AS p`,
    );
    expect(Object.fromEntries(privileges.map((r) => [r.p, r.has]))).toEqual({
      SELECT: true,
      INSERT: true,
      UPDATE: false,
      DELETE: false,
      TRUNCATE: false,
      REFERENCES: false,
      TRIGGER: false,
    });
    const [owner] = await db.asOwner<{ owner: string }>(`SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'audit_ledger'`);
    expect(owner?.owner).not.toBe('safeguard_app');
  });

  it('appends chained entries that are committed (visible to another connection) when append resolves', async () => {
    const first = await ledger.append(decision('req-chain-1'));
    const second = await ledger.append(
      decision('req-chain-2', {
        kind: 'request_refused',
        outcome: 'forbidden',
        actor: null,
        purpose: undefined,
        rules: undefined,
        payload: { status: 403 },
      }),
    );
    expect(first.seq).toBe(1);
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(second.seq).toBe(2);
    expect(second.prevHash).toBe(first.entryHash);
    expect(first.entryHash).toMatch(/^[0-9a-f]{64}$/);
    expect(second.recordedAt.getTime()).toBeGreaterThanOrEqual(first.recordedAt.getTime());

    const rows = await ownerRows(db);
    expect(rows).toHaveLength(2);
    const [r1, r2] = rows as [LedgerRow, LedgerRow];
    expect(r1).toEqual(
      expect.objectContaining({
        seq: '1',
        entry_id: first.entryId,
        kind: 'decision',
        outcome: 'permit_partial',
        request_id: 'req-chain-1',
        agency_id: 'test-police',
        agency_type: 'police',
        client_id: 'test-police-client',
        practitioner: 'officer-17',
        role: 'police_officer',
        issuer: 'https://idp.test-police.example',
        purpose: 'operation_encompass',
        rules: ['encompass-school-notification'],
        prev_hash: GENESIS_HASH,
        entry_hash: first.entryHash,
      }),
    );
    expect(r1.recorded_at.toISOString()).toBe(first.recordedAt.toISOString());
    expect(r2).toEqual(
      expect.objectContaining({ agency_id: null, practitioner: null, purpose: null, rules: [], payload: { status: 403 } }),
    );
    // The stored row hashes to its stored hash with the one shared preimage function.
    expect(entryHash(toHashInput(r1))).toBe(r1.entry_hash);
    expect(entryHash(toHashInput(r2))).toBe(r2.entry_hash);

    const report = await verifyLedger(pool);
    expect(report).toEqual(
      expect.objectContaining({ ok: true, entriesChecked: 2, lastSeq: 2, lastHash: second.entryHash, trustedUpTo: 2, problems: [] }),
    );
  });

  it('hashes content canonically: key order does not matter, and contentHash is prefixed', () => {
    expect(contentHash({ b: 1, a: [1, 'x'] })).toBe(contentHash({ a: [1, 'x'], b: 1 }));
    expect(contentHash({ a: 1 })).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
  });

  it('gives 500 concurrent appends from one ledger distinct gapless seqs, in few transactions (group commit)', async () => {
    const [{ max }] = (await db.asOwner<{ max: string }>('SELECT coalesce(max(seq), 0)::text AS max FROM audit_ledger')) as [
      { max: string },
    ];
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => ledger.append(decision(`req-burst-${i}`))));
    expectGapless(
      results.map((r) => r.seq),
      Number(max) + 1,
    );
    // Each appender got its own entry back.
    const rows = await db.asOwner<{ entry_id: string; request_id: string; tx: string }>(
      `SELECT entry_id::text, request_id, xmin::text AS tx FROM audit_ledger WHERE request_id LIKE 'req-burst-%'`,
    );
    const byId = new Map(rows.map((r) => [r.entry_id, r.request_id]));
    results.forEach((r, i) => expect(byId.get(r.entryId)).toBe(`req-burst-${i}`));
    // Group commit: far fewer transactions than entries, none bigger than maxBatch.
    const perTx = new Map<string, number>();
    for (const r of rows) perTx.set(r.tx, (perTx.get(r.tx) ?? 0) + 1);
    expect(perTx.size).toBeLessThan(50);
    expect(Math.max(...perTx.values())).toBeLessThanOrEqual(256);
    expect((await verifyLedger(pool, { batchSize: 97 })).ok).toBe(true);
  });

  it('serialises appenders across ledgers with separate pools and across OS processes', async () => {
    const [{ max }] = (await db.asOwner<{ max: string }>('SELECT coalesce(max(seq), 0)::text AS max FROM audit_ledger')) as [
      { max: string },
    ];
    const pools = [0, 1, 2].map(() => new Pool({ connectionString: db.appUrl, max: 2 }));
    const ledgers = pools.map((p) => new PgAuditLedger(p, { maxBatch: 32 }));

    const ledgerJs = compileForNode('src/audit/pg-ledger.ts', buildDir);
    const childScript = path.join(buildDir, 'append-child.js');
    writeFileSync(
      childScript,
      `
      const { Pool } = require('pg');
      const { PgAuditLedger } = require(${JSON.stringify(ledgerJs)});
      (async () => {
        const pool = new Pool({ connectionString: process.env.APP_URL, max: 2 });
        const ledger = new PgAuditLedger(pool, { maxBatch: 16 });
        const n = Number(process.env.N);
        const out = await Promise.all(Array.from({ length: n }, (_, i) => ledger.append({
          kind: 'decision', outcome: 'deny', requestId: 'req-child-' + process.env.TAG + '-' + i, actor: null,
          payload: { i },
        })));
        await ledger.close();
        await pool.end();
        process.stdout.write(JSON.stringify(out.map((e) => e.seq)));
      })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
    `,
    );
    const child = (tag: string) =>
      run(process.execPath, [childScript], {
        env: { ...process.env, APP_URL: db.appUrl, N: '150', TAG: tag, NODE_PATH: path.join(ROOT, 'node_modules') },
      }).then(({ stdout }) => JSON.parse(stdout) as number[]);

    try {
      const [inProcess, childA, childB] = await Promise.all([
        Promise.all(Array.from({ length: 500 }, (_, i) => (ledgers[i % 3] as PgAuditLedger).append(decision(`req-multi-${i}`)))),
        child('a'),
        child('b'),
      ]);
      const seqs = [...inProcess.map((r: AppendedEntry) => r.seq), ...childA, ...childB];
      expect(seqs).toHaveLength(800);
      expectGapless(seqs, Number(max) + 1);
      const report = await verifyLedger(pool, { batchSize: 128 });
      expect(report.ok).toBe(true);
      expect(report.lastSeq).toBe(Number(max) + 800);
    } finally {
      await Promise.all(ledgers.map((l) => l.close()));
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('rejects with AuditUnavailableError, storing nothing, when the database refuses the write', async () => {
    const before = (await ownerRows(db)).length;
    await db.asOwner('REVOKE INSERT ON audit_ledger FROM safeguard_app');
    try {
      const failure = await ledger.append(decision('req-revoked')).then(
        () => null,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(AuditUnavailableError);
      expect(failure).toEqual(expect.objectContaining({ code: 'audit_unavailable', reason: 'database' }));
      expect((failure as Error).message).toMatch(/permission denied/);
    } finally {
      await db.asOwner('GRANT INSERT ON audit_ledger TO safeguard_app');
    }
    expect((await ownerRows(db)).length).toBe(before);
    // The ledger recovers and the chain continues unbroken.
    const next = await ledger.append(decision('req-after-regrant'));
    expect(next.seq).toBe(before + 1);
    expect((await verifyLedger(pool)).ok).toBe(true);
  });

  it('rejects every waiter of a batch that fails, stores none of it, and keeps earlier batches', async () => {
    await db.asOwner(`ALTER TABLE audit_ledger ADD CONSTRAINT test_no_poison CHECK (NOT (payload ? 'poison'))`);
    try {
      // The first append starts a flush on its own; the next ten queue behind it and form the next batch.
      const first = ledger.append(decision('req-batch-first'));
      const batch = Array.from({ length: 10 }, (_, i) =>
        ledger.append(decision(`req-batch-${i}`, { payload: i === 7 ? { poison: true } : { i } })).then(
          () => 'stored',
          (e: unknown) => (e instanceof AuditUnavailableError ? e.reason : 'other error'),
        ),
      );
      await expect(first).resolves.toEqual(expect.objectContaining({ entryId: expect.any(String) }));
      expect(await Promise.all(batch)).toEqual(Array(10).fill('database'));
      const stored = await db.asOwner(`SELECT 1 FROM audit_ledger WHERE request_id LIKE 'req-batch-%' AND request_id <> 'req-batch-first'`);
      expect(stored).toHaveLength(0);
    } finally {
      await db.asOwner('ALTER TABLE audit_ledger DROP CONSTRAINT test_no_poison');
    }
    expect((await verifyLedger(pool)).ok).toBe(true);
  });

  it('refuses an entry PostgreSQL could not store on its own, without failing the others queued with it', async () => {
    const results = await Promise.allSettled([
      ledger.append(decision('req-ok-1')),
      ledger.append(decision('req-nul', { payload: { note: 'a\u0000b' } })),
      ledger.append(decision('req-nan', { payload: { score: Number.NaN } })),
      ledger.append(decision('req-ok-2')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    for (const r of results) {
      if (r.status === 'rejected')
        expect(r.reason).toEqual(expect.objectContaining({ code: 'audit_unavailable', reason: 'invalid_entry' }));
    }
  });

  it('fails closed when the ledger lock cannot be had in time (a stuck appender elsewhere)', async () => {
    const blocker = new Client({ connectionString: db.ownerUrl });
    await blocker.connect();
    const impatientPool = new Pool({ connectionString: db.appUrl, max: 1 });
    const impatient = new PgAuditLedger(impatientPool, { timeoutMs: 300 });
    try {
      await blocker.query(`SELECT pg_advisory_lock(${LEDGER_LOCK_KEY})`);
      await expect(impatient.append(decision('req-stuck'))).rejects.toThrow(/statement timeout/);
    } finally {
      await blocker.query(`SELECT pg_advisory_unlock(${LEDGER_LOCK_KEY})`);
      await blocker.end();
      await impatient.close();
      await impatientPool.end();
    }
    expect(await db.asOwner(`SELECT 1 FROM audit_ledger WHERE request_id = 'req-stuck'`)).toHaveLength(0);
  });

  it('fails closed when no pooled connection is free in time, then recovers', async () => {
    const busyPool = new Pool({ connectionString: db.appUrl, max: 1 });
    const busy = new PgAuditLedger(busyPool, { timeoutMs: 200 });
    const hog = await busyPool.connect();
    try {
      await expect(busy.append(decision('req-no-connection'))).rejects.toThrow(/no database connection within 200 ms/);
    } finally {
      hog.release();
    }
    await expect(busy.append(decision('req-connection-back'))).resolves.toEqual(expect.objectContaining({ seq: expect.any(Number) }));
    await busy.close();
    await busyPool.end();
    expect(await db.asOwner(`SELECT 1 FROM audit_ledger WHERE request_id = 'req-no-connection'`)).toHaveLength(0);
  });

  it('refuses appends after close, once queued entries are committed', async () => {
    const p = new Pool({ connectionString: db.appUrl, max: 1 });
    const l = new PgAuditLedger(p);
    const pending = Array.from({ length: 5 }, (_, i) => l.append(decision(`req-close-${i}`)));
    await l.close();
    expect((await Promise.all(pending)).map((e) => e.entryId)).toHaveLength(5);
    await expect(l.append(decision('req-too-late'))).rejects.toEqual(expect.objectContaining({ reason: 'closed' }));
    await p.end();
  });
});
