/**
 * The auditor's queries over the audit ledger, against real PostgreSQL: newest-first pages with signed cursors,
 * filters (agency, purpose, outcome, rule, kind, time), bad cursors refused as typed 400s, one entry by id.
 */
import { Pool } from 'pg';
import { RefusalError } from '../../src/errors';
import { problemFor } from '../../src/http/problem';
import type { AppendedEntry } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { getEntry, InvalidCursorError, queryLedger, type LedgerEntryView, type LedgerFilters } from '../../src/audit/query';
import { pseudonymiser } from '../../src/audit/pseudonym';
import type { Purpose } from '../../src/vocabulary/vocabulary';
import { decision, police, school } from '../support/audit-entries';
import { createTestDatabase, type TestDatabase } from '../support/db';

const cursorKey = pseudonymiser('audit-ledger-test-key-audit-ledger-test-key');
const mac = (body: string): Buffer => cursorKey.mac('audit-cursor', body);

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
