/**
 * The ledger writer's one-round-trip path: a batch is chained onto the head this process wrote last, in one
 * autocommit statement that takes the advisory lock; when another appender has written since, PRIMARY KEY and
 * UNIQUE refuse that statement whole and the batch is written on the head read after the lock instead. Real
 * PostgreSQL; the statements each writer sends are read off its connections.
 */
import { Pool, type PoolClient } from 'pg';
import { type AuditActor, type NewAuditEntry } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { entryMacKey } from '../../src/audit/entry-mac';
import { verifyLedger } from '../../src/audit/verify';
import { createTestDatabase, type TestDatabase } from '../support/db';

const police: AuditActor = {
  agencyId: 'test-police',
  agencyType: 'police',
  clientId: 'police-client',
  role: 'police_officer',
  issuer: 'https://idp.test/police',
};

function decision(requestId: string): NewAuditEntry {
  return { kind: 'decision', outcome: 'permit', requestId, actor: police, purpose: 'operation_encompass', payload: { requestId } };
}

/** A pool whose connections note the first words of every statement sent on them. */
function watchedPool(url: string, sent: string[]): Pool {
  const pool = new Pool({ connectionString: url, max: 2 });
  pool.on('connect', (client: PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      if (typeof args[0] === 'string') sent.push(args[0].trimStart().slice(0, 24));
      return query(...args);
    };
  });
  return pool;
}

describe('ledger writer: chaining onto its own last entry', () => {
  let db: TestDatabase;
  const sentA: string[] = [];
  const sentB: string[] = [];
  let poolA: Pool;
  let poolB: Pool;
  let a: PgAuditLedger;
  let b: PgAuditLedger;
  const macKey = entryMacKey('known-head-test-mac-key-known-head-test');

  beforeAll(async () => {
    db = await createTestDatabase();
    poolA = watchedPool(db.appUrl, sentA);
    poolB = watchedPool(db.appUrl, sentB);
    a = new PgAuditLedger(poolA, { macKey });
    b = new PgAuditLedger(poolB, { macKey });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await poolA.end();
    await poolB.end();
    await db.drop();
  });

  it('reads the head after the lock once, then writes each batch in one statement; another writer moves the head and it falls back', async () => {
    const first = await a.append(decision('req-a-1'));
    expect(sentA.filter((s) => s.startsWith('BEGIN'))).toHaveLength(1);
    // The next batches chain onto the entry this writer just wrote: one statement each, no transaction block.
    const second = await a.append(decision('req-a-2'));
    const third = await Promise.all([a.append(decision('req-a-3')), a.append(decision('req-a-4'))]);
    expect(second.seq).toBe(first.seq + 1);
    expect(second.prevHash).toBe(first.entryHash);
    expect(third.map((e) => e.seq)).toEqual([first.seq + 2, first.seq + 3]);
    expect(sentA.filter((s) => s.startsWith('BEGIN'))).toHaveLength(1);
    expect(sentA.filter((s) => s.startsWith('WITH lock AS MATERIALIZE'))).toHaveLength(2);

    // Another writer (another instance) appends: A's knowledge of the head is now stale.
    const other = await b.append(decision('req-b-1'));
    expect(other.seq).toBe(first.seq + 4);
    const beginsBefore = sentA.filter((s) => s.startsWith('BEGIN')).length;
    const afterOther = await a.append(decision('req-a-5'));
    // A's one statement was refused whole (its seq and prev_hash were taken), and the batch went through the lock.
    expect(sentA.filter((s) => s.startsWith('BEGIN')).length).toBe(beginsBefore + 1);
    expect(afterOther.seq).toBe(other.seq + 1);
    expect(afterOther.prevHash).toBe(other.entryHash);

    const rows = await db.asOwner<{ seq: string; request_id: string }>('SELECT seq::text, request_id FROM audit_ledger ORDER BY seq');
    expect(rows.map((r) => r.request_id)).toEqual(['req-a-1', 'req-a-2', 'req-a-3', 'req-a-4', 'req-b-1', 'req-a-5']);
    const check = new Pool({ connectionString: db.appUrl, max: 1 });
    try {
      expect(await verifyLedger(check)).toMatchObject({ ok: true, entriesChecked: 6, lastSeq: 6 });
    } finally {
      await check.end();
    }
  });

  it('never lets an entry time go backwards, whatever the clocks of the writers', async () => {
    const rows = await db.asOwner<{ t: Date }>('SELECT recorded_at AS t FROM audit_ledger ORDER BY seq');
    for (let i = 1; i < rows.length; i++)
      expect((rows[i] as { t: Date }).t.getTime()).toBeGreaterThanOrEqual((rows[i - 1] as { t: Date }).t.getTime());
  });
});
