/**
 * What `npm run policy:impact` replays (src/cli/policy-impact.ts): the other catalogue's files (a directory, or a git
 * ref's copy of the policy directory) and the decision inputs recorded in the audit ledger. No configuration or
 * database start-up here, so tests can use it against their own database.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { deriveFacts } from '../decisions/derive-facts';
import { DEFAULT_SCHOOL_CALENDAR } from '../notifications/school-day';
import type { ReplayInput } from '../policy/impact';
import { englandToday } from '../policy/obligation';
import { isAgencyType, isField, isPurpose, isRole, isSubjectRole, type Facts } from '../vocabulary/vocabulary';

/** A directory as it is, or a git ref's copy of the policy directory in a temporary directory. */
export function catalogueDirFor(against: string, policyDir: string): { dir: string; cleanup: () => void } {
  if (existsSync(against) && statSync(against).isDirectory()) return { dir: against, cleanup: () => undefined };
  const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let commit: string;
  try {
    commit = git('rev-parse', '--verify', '--quiet', `${against}^{commit}`).trim();
  } catch {
    throw new Error(`"${against}" is neither a directory nor a git commit or ref`);
  }
  const root = git('rev-parse', '--show-toplevel').trim();
  const rel = path.relative(root, path.resolve(policyDir)).split(path.sep).join('/');
  const names = git('ls-tree', '--name-only', commit, `${rel}/`)
    .split('\n')
    .map((n) => n.trim())
    .filter((n) => /\.ya?ml$/.test(n));
  if (names.length === 0) throw new Error(`${against} has no policy files under ${rel}/`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-policy-impact-'));
  for (const name of names) writeFileSync(path.join(dir, path.basename(name)), git('show', `${commit}:${name}`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

interface LedgerRow {
  entry_id: string;
  recorded_at: Date;
  kind: string;
  role: string | null;
  purpose: string | null;
  payload: Record<string, unknown>;
}

/** The decision input an entry recorded, or undefined when it holds none (refusals, reads of own records…). */
export function inputOf(row: LedgerRow): ReplayInput | undefined {
  const p = row.payload;
  const to = p.to as { agencyType?: unknown; role?: unknown } | undefined;
  const from = row.kind === 'decision' ? p.from : p.owningAgencyType;
  const fields =
    row.kind === 'decision'
      ? p.fieldsRequested
      : [
          ...((p.fieldsDisclosed as unknown[] | undefined) ?? []),
          ...((p.withheldFields as Array<{ field?: unknown }> | undefined) ?? []).map((w) => w.field),
        ];
  if (row.kind === 'disclosure' && p.access !== 'policy') return undefined;
  if (
    !isAgencyType(from) ||
    !to ||
    !isAgencyType(to.agencyType) ||
    !isRole(to.role) ||
    !isPurpose(row.purpose) ||
    !isSubjectRole(p.subjectRole)
  )
    return undefined;
  if (!Array.isArray(fields) || fields.length === 0 || !fields.every(isField)) return undefined;
  const recorded = (p.facts && typeof p.facts === 'object' ? p.facts : {}) as Facts;
  const facts = deriveFacts(recorded, { now: row.recorded_at, calendar: DEFAULT_SCHOOL_CALENDAR, assertedBy: 'record' }).facts;
  const role = row.kind === 'decision' && isRole(row.role) ? row.role : undefined;
  return {
    entryId: row.entry_id,
    input: {
      from: { agencyType: from, ...(role ? { role } : {}) },
      to: { agencyType: to.agencyType, role: to.role },
      purpose: row.purpose,
      subjectRole: p.subjectRole,
      fields: [...new Set(fields)],
      facts: {
        ...facts,
        ...(p.facts && typeof p.facts === 'object' && 'perpetrator_joined_household_with_children' in p.facts
          ? { perpetrator_joined_household_with_children: (p.facts as Facts).perpetrator_joined_household_with_children }
          : {}),
      } as Facts,
      on: englandToday(row.recorded_at),
    },
  };
}

export async function readInputs(pool: Pool): Promise<ReplayInput[]> {
  const out: ReplayInput[] = [];
  let after = 0;
  for (;;) {
    const { rows } = await pool.query<LedgerRow & { seq: string }>(
      `SELECT seq, entry_id, recorded_at, kind, role, purpose, payload FROM audit_ledger
        WHERE kind IN ('decision', 'disclosure') AND seq > $1 ORDER BY seq LIMIT 5000`,
      [after],
    );
    if (rows.length === 0) return out;
    for (const row of rows) {
      const input = inputOf(row);
      if (input) out.push(input);
    }
    after = Number(rows[rows.length - 1]?.seq ?? after);
  }
}
