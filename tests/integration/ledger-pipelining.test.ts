/**
 * The ledger writer sends its next batch while the one before is still committing — when that next batch is full —
 * chained onto the head the one before leaves; the database checks, after the appenders' lock, that the batch before
 * committed (audit_ledger_chains_onto). The writer here has batches of one entry, so one waiting entry is a full batch.
 * Real PostgreSQL: a test connection holds the appenders' advisory lock so that two batches wait on the wire, then
 * lets them go — or kills the first one's connection first.
 */
import { Client, Pool } from 'pg';
import { LEDGER_LOCK_KEY, PgAuditLedger } from '../../src/audit/pg-ledger';
import { entryMacKey } from '../../src/audit/entry-mac';
import { verifyLedger } from '../../src/audit/verify';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { watchedPool } from '../support/watched-pool';
import { decision } from '../support/audit-entries';

const ONE_STATEMENT = 'WITH lock AS MATERIALIZED';

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ledger writer: the next batch on the wire while the one before commits', () => {
  let db: TestDatabase;
  let admin: Client;
  let holder: Client;
  const sent: Array<{ pid: number; sql: string }> = [];
  let pool: Pool;
  let ledger: PgAuditLedger;

  beforeAll(async () => {
    db = await createTestDatabase();
    const adminUrl = new URL(process.env.SG_TEST_ADMIN_URL as string);
    adminUrl.pathname = `/${db.name}`;
    admin = new Client({ connectionString: adminUrl.toString() });
    holder = new Client({ connectionString: db.ownerUrl });
    await Promise.all([admin.connect(), holder.connect()]);
    pool = watchedPool(db.appUrl, (sql, pid) => sent.push({ pid, sql }));
    ledger = new PgAuditLedger(pool, { maxBatch: 1, macKey: entryMacKey('pipelining-test-mac-key-pipelining-test') });
  });
  afterAll(async () => {
    await ledger.close();
    await pool.end();
    await Promise.all([admin.end(), holder.end()]);
    await db.drop();
  });

  const waitingOnLock = async (): Promise<number> => {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return rows[0]?.n ?? 0;
  };
  /** Two appends, the second made once the first's batch is on the wire; both wait for the lock the test holds. */
  const twoOnTheWire = async (x: string, y: string): Promise<[Promise<unknown>, Promise<unknown>, number]> => {
    await holder.query('SELECT pg_advisory_lock($1)', [LEDGER_LOCK_KEY]);
    const before = sent.length;
    const first = ledger.append(decision(x));
    await until('the first batch waits for the lock', async () => (await waitingOnLock()) === 1);
    const second = ledger.append(decision(y));
    await until('both batches wait for the lock', async () => (await waitingOnLock()) === 2);
    const firstPid = sent.slice(before).find((s) => s.sql.startsWith(ONE_STATEMENT))?.pid;
    if (firstPid === undefined) throw new Error('the first batch was not sent as one statement');
    // Neither may settle before its commit.
    first.catch(() => undefined);
    second.catch(() => undefined);
    return [first, second, firstPid];
  };

  it('commits both, the second chained onto the first, each in one statement and no transaction block', async () => {
    await ledger.append(decision('req-0')); // the locked way: it reads the head, then chains onto its own entries
    const start = sent.length;
    const [first, second] = await twoOnTheWire('req-1', 'req-2');
    const early = await Promise.race([first.then(() => 'settled'), new Promise((r) => setTimeout(() => r('waiting'), 200))]);
    expect(early).toBe('waiting');
    await holder.query('SELECT pg_advisory_unlock($1)', [LEDGER_LOCK_KEY]);
    const [a, b] = (await Promise.all([first, second])) as Array<{ seq: number; entryHash: string; prevHash: string }>;
    expect(b?.seq).toBe((a?.seq ?? 0) + 1);
    expect(b?.prevHash).toBe(a?.entryHash);
    const statements = sent.slice(start).map((s) => s.sql);
    expect(statements.filter((s) => s.startsWith(ONE_STATEMENT))).toHaveLength(2);
    expect(statements.filter((s) => s.startsWith('BEGIN'))).toHaveLength(0);
    expect(await verifyLedger(pool)).toMatchObject({ ok: true, entriesChecked: 3 });
  });

  it('when the batch before does not commit, the next is not chained onto it: it is written onto what is there', async () => {
    const [head] = await db.asOwner<{ seq: string; entry_hash: string }>(
      'SELECT seq::text, entry_hash FROM audit_ledger ORDER BY seq DESC LIMIT 1',
    );
    const [first, second, firstPid] = await twoOnTheWire('req-lost', 'req-kept');
    await admin.query('SELECT pg_terminate_backend($1)', [firstPid]);
    await holder.query('SELECT pg_advisory_unlock($1)', [LEDGER_LOCK_KEY]);
    await expect(first).rejects.toMatchObject({ name: 'AuditUnavailableError' });
    const kept = (await second) as { seq: number; prevHash: string };
    // The second batch's one statement stored nothing (its predecessor never committed); the locked way chained it
    // onto the real head.
    expect(kept.seq).toBe(Number(head?.seq) + 1);
    expect(kept.prevHash).toBe(head?.entry_hash);
    const rows = await db.asOwner<{ request_id: string }>('SELECT request_id FROM audit_ledger ORDER BY seq');
    expect(rows.map((r) => r.request_id)).toEqual(['req-0', 'req-1', 'req-2', 'req-kept']);
    expect(await verifyLedger(pool)).toMatchObject({ ok: true, entriesChecked: 4 });
    // And the writer carries on.
    const next = await ledger.append(decision('req-after'));
    const [keptRow] = await db.asOwner<{ entry_hash: string }>('SELECT entry_hash FROM audit_ledger WHERE seq = $1', [kept.seq]);
    expect(next.prevHash).toBe(keptRow?.entry_hash);
  });

  it('a batch that is not full waits, and grows, while the one before commits', async () => {
    const others: Array<{ pid: number; sql: string }> = [];
    const otherPool = watchedPool(db.appUrl, (sql, pid) => others.push({ pid, sql }));
    const writer = new PgAuditLedger(otherPool, { macKey: entryMacKey('pipelining-test-mac-key-pipelining-test') });
    try {
      await writer.append(decision('req-big-0'));
      await holder.query('SELECT pg_advisory_lock($1)', [LEDGER_LOCK_KEY]);
      const first = writer.append(decision('req-big-1'));
      await until('the first batch waits for the lock', async () => (await waitingOnLock()) === 1);
      const rest = [writer.append(decision('req-big-2')), writer.append(decision('req-big-3'))];
      await new Promise((r) => setTimeout(r, 200));
      expect(await waitingOnLock()).toBe(1);
      await holder.query('SELECT pg_advisory_unlock($1)', [LEDGER_LOCK_KEY]);
      const [a, b, c] = (await Promise.all([first, ...rest])) as Array<{ seq: number; entryHash: string; prevHash: string }>;
      // The two that waited went together, in one statement chained onto the first.
      expect([b?.seq, c?.seq]).toEqual([(a?.seq ?? 0) + 1, (a?.seq ?? 0) + 2]);
      expect(b?.prevHash).toBe(a?.entryHash);
      expect(others.filter((o) => o.sql.startsWith(ONE_STATEMENT))).toHaveLength(2);
      expect(await verifyLedger(otherPool)).toMatchObject({ ok: true });
    } finally {
      await writer.close();
      await otherPool.end();
    }
  });
});
