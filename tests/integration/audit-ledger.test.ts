/**
 * The audit ledger against real PostgreSQL: chained, durable appends; group commit under concurrency (one process,
 * several ledgers with separate pools, and separate OS processes); fail-closed appends; the auditor's queries;
 * the audit-verify CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { compileForNode, ROOT } from '../support/compile-for-node';
import { Client, Pool } from 'pg';
import { RefusalError } from '../../src/errors';
import { problemFor } from '../../src/http/problem';
import {
  AuditUnavailableError,
  contentHash,
  entryHash,
  GENESIS_HASH,
  type AppendedEntry,
  type AuditActor,
  type NewAuditEntry,
} from '../../src/audit/entry';
import { LEDGER_LOCK_KEY, PgAuditLedger } from '../../src/audit/pg-ledger';
import { entryMacKey } from '../../src/audit/entry-mac';
import { getEntry, InvalidCursorError, queryLedger, type LedgerEntryView, type LedgerFilters } from '../../src/audit/query';
import { toHashInput, LEDGER_COLUMNS, type LedgerRow } from '../../src/audit/rows';
import { verifyLedger } from '../../src/audit/verify';
import { pseudonymiser } from '../../src/audit/pseudonym';

const cursorKey = pseudonymiser('audit-ledger-test-key-audit-ledger-test-key');
const mac = (body: string): Buffer => cursorKey.mac('audit-cursor', body);
import type { Purpose } from '../../src/vocabulary/vocabulary';
import { createTestDatabase, type TestDatabase } from '../support/db';

const run = promisify(execFile);

const police: AuditActor = {
  agencyId: 'test-police',
  agencyType: 'police',
  clientId: 'test-police-client',
  role: 'police_officer',
  practitioner: 'officer-17',
  issuer: 'https://idp.test-police.example',
};
const school: AuditActor = {
  agencyId: 'test-school',
  agencyType: 'school',
  clientId: 'test-school-client',
  role: 'designated_safeguarding_lead',
  issuer: 'https://idp.test-school.example',
};

function decision(requestId: string, overrides: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    kind: 'decision',
    outcome: 'permit_partial',
    requestId,
    actor: police,
    purpose: 'operation_encompass',
    rules: ['encompass-school-notification'],
    payload: { fieldsRequested: ['name', 'incident_date'], permittedFields: ['name'], answerHash: contentHash({ requestId }) },
    ...overrides,
  };
}

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

describe('auditor queries', () => {
  let db: TestDatabase;
  let pool: Pool;
  const all: AppendedEntry[] = [];
  const purposes: Purpose[] = ['operation_encompass', 'marac', 'child_protection_enquiry'];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new Pool({ connectionString: db.appUrl, max: 3 });
    const ledger = new PgAuditLedger(pool, { maxBatch: 8 });
    for (let i = 0; i < 45; i++) {
      // Sequential, so seq order is creation order.
      all.push(
        await ledger.append(
          decision(`req-q-${i}`, {
            actor: i % 3 === 0 ? school : police,
            purpose: purposes[i % 3] as Purpose,
            outcome: i % 5 === 0 ? 'deny' : 'permit',
            rules: i % 4 === 0 ? ['rule-a', 'rule-b'] : ['rule-c'],
            kind: i % 9 === 0 ? 'audit_read' : 'decision',
          }),
        ),
      );
    }
    await ledger.close();
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  async function everything(filters: LedgerFilters, limit: number): Promise<{ pages: number; entries: LedgerEntryView[] }> {
    const entries: LedgerEntryView[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await queryLedger(pool, filters, { ...(cursor ? { cursor } : {}), limit, mac });
      pages += 1;
      expect(page.entries.length).toBeLessThanOrEqual(limit);
      entries.push(...page.entries);
      cursor = page.nextCursor;
    } while (cursor && pages < 100);
    return { pages, entries };
  }

  it('pages newest first with no duplicates and no gaps', async () => {
    const { pages, entries } = await everything({}, 7);
    expect(pages).toBe(7);
    expect(entries.map((e) => e.seq)).toEqual(all.map((a) => a.seq).reverse());
    const first = entries[0] as LedgerEntryView;
    const newest = all[all.length - 1] as AppendedEntry;
    expect(first).toEqual(
      expect.objectContaining({
        entryId: newest.entryId,
        entryHash: newest.entryHash,
        prevHash: newest.prevHash,
        recordedAt: newest.recordedAt.toISOString(),
      }),
    );
    // An exact multiple of the page size ends without a dangling cursor.
    const exact = await everything({}, 15);
    expect(exact.pages).toBe(3);
    expect(exact.entries).toHaveLength(45);
  });

  it('filters by agency, purpose, outcome, rule and kind, combined, across pages', async () => {
    const expected = (pred: (i: number) => boolean) =>
      all
        .filter((_, i) => pred(i))
        .map((a) => a.seq)
        .reverse();
    const seqs = async (f: LedgerFilters) => (await everything(f, 4)).entries.map((e) => e.seq);
    expect(await seqs({ agencyId: 'test-school' })).toEqual(expected((i) => i % 3 === 0));
    expect(await seqs({ purpose: 'marac' })).toEqual(expected((i) => i % 3 === 1));
    expect(await seqs({ outcome: 'deny' })).toEqual(expected((i) => i % 5 === 0));
    expect(await seqs({ rule: 'rule-b' })).toEqual(expected((i) => i % 4 === 0));
    expect(await seqs({ kind: 'audit_read' })).toEqual(expected((i) => i % 9 === 0));
    expect(await seqs({ agencyId: 'test-police', outcome: 'permit', rule: 'rule-c' })).toEqual(
      expected((i) => i % 3 !== 0 && i % 5 !== 0 && i % 4 !== 0),
    );
    expect(await seqs({ agencyId: "x' OR '1'='1" })).toEqual([]);
    const view = (await queryLedger(pool, { agencyId: 'test-school' }, { limit: 1, mac })).entries[0] as LedgerEntryView;
    expect(view.actor).toEqual({
      agencyId: 'test-school',
      agencyType: 'school',
      clientId: 'test-school-client',
      practitioner: null,
      role: 'designated_safeguarding_lead',
      issuer: 'https://idp.test-school.example',
    });
  });

  it('filters by time (since and until inclusive)', async () => {
    const mid = all[20] as AppendedEntry;
    const since = (await everything({ since: mid.recordedAt }, 50)).entries;
    expect(since.every((e) => new Date(e.recordedAt) >= mid.recordedAt)).toBe(true);
    expect(since.map((e) => e.seq)).toContain(mid.seq);
    const until = (await everything({ until: mid.recordedAt }, 50)).entries;
    expect(until.every((e) => new Date(e.recordedAt) <= mid.recordedAt)).toBe(true);
    expect(until.map((e) => e.seq)).toContain(mid.seq);
    expect((await everything({ since: new Date(Date.now() + 3_600_000) }, 50)).entries).toEqual([]);
  });

  it('refuses a bad cursor with a typed 400 error', async () => {
    const page = await queryLedger(pool, { purpose: 'marac' }, { limit: 2, mac });
    expect(page.nextCursor).toEqual(expect.any(String));
    const bad = async (cursor: string, filters: LedgerFilters = { purpose: 'marac' }) =>
      queryLedger(pool, filters, { cursor, limit: 2, mac }).then(
        () => null,
        (e: unknown) => e,
      );
    const forged = Buffer.from(JSON.stringify({ v: 1, b: 'DROP TABLE', f: 'x' })).toString('base64url');
    // A real cursor with the seq inside it edited, keeping its MAC; and one signed under another key.
    const issued = page.nextCursor as string;
    const body = JSON.parse(Buffer.from(issued.slice(0, -22), 'base64url').toString('utf8')) as { v: 1; b: number; f: string };
    const editedText = Buffer.from(JSON.stringify({ ...body, b: body.b + 1000 })).toString('base64url');
    const edited = `${editedText}${issued.slice(-22)}`;
    const otherKey = pseudonymiser('another-gateway-key-another-gateway-key');
    const foreign = `${editedText}${otherKey.mac('audit-cursor', editedText).subarray(0, 16).toString('base64url')}`;
    const errors = [
      await bad('not a cursor!'),
      await bad('AAAA'),
      await bad(forged),
      await bad(issued, { purpose: 'early_help' }),
      await bad(edited),
      await bad(foreign),
    ];
    expect(((await bad(edited)) as Error).message).toMatch(/not issued by this gateway, or has been changed/);
    for (const e of errors) {
      expect(e).toBeInstanceOf(InvalidCursorError);
      expect(e).toBeInstanceOf(RefusalError);
      // The domain's refusal code; the HTTP edge answers it as the problem it always was.
      expect(e).toEqual(expect.objectContaining({ code: 'invalid_cursor' }));
      expect(problemFor(e, { error: () => undefined })).toEqual(expect.objectContaining({ code: 'bad_request', status: 400 }));
    }
    const tooMany = await queryLedger(pool, {}, { limit: 201, mac }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(tooMany).toBeInstanceOf(RefusalError);
    expect(problemFor(tooMany, { error: () => undefined })).toEqual(expect.objectContaining({ status: 400 }));
  });

  it('gets one entry by id, and null for an unknown or malformed id', async () => {
    const target = all[3] as AppendedEntry;
    const found = await getEntry(pool, target.entryId);
    expect(found).toEqual(expect.objectContaining({ seq: target.seq, entryId: target.entryId, entryHash: target.entryHash }));
    expect(await getEntry(pool, '00000000-0000-4000-8000-000000000000')).toBeNull();
    expect(await getEntry(pool, "'; DROP TABLE audit_ledger; --")).toBeNull();
  });
});

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
