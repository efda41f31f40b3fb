/**
 * The auditor's read API. Auditor role only; every read is itself recorded in the ledger (what was asked, how many
 * entries were returned and a hash of the page) before the page is sent.
 */
import { Router } from 'express';
import type { Pool } from 'pg';
import { GatewayError } from '../../errors';
import type { AuditLedger } from '../../audit/entry';
import { contentHash } from '../../audit/entry';
import { getEntry, queryLedger, type LedgerFilters } from '../../audit/query';
import { verifyLedger } from '../../audit/verify';
import { describeVerification } from '../../audit/verification-wording';
import { verifyWith, type CheckpointSink, type WitnessClient } from '../../audit/checkpoints';
import type { EntryMacKey } from '../../audit/entry-mac';
import type { GatewayKeys } from '../../keys/gateway-keys';
import type { Pseudonymiser } from '../../audit/pseudonym';
import { principalOf, requireRole } from '../../auth/middleware';
import { actorOf } from '../../audit/actor';
import { requestIdOf } from '../context';
import { queryValidator } from '../validation';
import { auditQuerySchema } from '../schemas';

interface AuditQuery {
  since?: string;
  until?: string;
  agencyId?: string;
  purpose?: LedgerFilters['purpose'];
  outcome?: string;
  rule?: string;
  kind?: string;
  requestId?: string;
  subjectRef?: string;
  cursor?: string;
  limit?: number;
}
const validateAuditQuery = queryValidator<AuditQuery>(auditQuerySchema, 'audit query');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function auditRouter(deps: {
  ledger: AuditLedger;
  pool: Pool;
  keys: GatewayKeys;
  pseudonymise: Pseudonymiser;
  /** The copies verification compares with (export directory, mirror) and the witnesses. */
  sinks?: readonly CheckpointSink[];
  witnesses?: readonly WitnessClient[];
  quorum?: number;
  macKey?: EntryMacKey;
}): Router {
  const router = Router();
  const cursorMac = (body: string): Buffer => deps.pseudonymise.mac('audit-cursor', body);
  router.use('/audit', requireRole('auditor'));

  router.get('/audit', async (req, res) => {
    const q = validateAuditQuery({ ...req.query });
    const pseudonymOf = (ref: string): string => {
      if (!deps.pseudonymise) throw new GatewayError('bad_request', 'This gateway cannot search by subject.');
      return deps.pseudonymise(ref);
    };
    const filters: LedgerFilters = {
      ...(q.since ? { since: new Date(q.since) } : {}),
      ...(q.until ? { until: new Date(q.until) } : {}),
      ...(q.agencyId ? { agencyId: q.agencyId } : {}),
      ...(q.purpose ? { purpose: q.purpose } : {}),
      ...(q.outcome ? { outcome: q.outcome } : {}),
      ...(q.rule ? { rule: q.rule } : {}),
      ...(q.kind ? { kind: q.kind } : {}),
      ...(q.requestId ? { requestId: q.requestId } : {}),
      ...(q.subjectRef ? { subjectPseudonym: pseudonymOf(q.subjectRef) } : {}),
    };
    const page = await queryLedger(deps.pool, filters, { ...(q.cursor ? { cursor: q.cursor } : {}), limit: q.limit ?? 50, mac: cursorMac });
    const body = { entries: page.entries, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
    const entry = await deps.ledger.append({
      kind: 'audit_read',
      outcome: 'served',
      requestId: requestIdOf(res),
      actor: actorOf(principalOf(res)),
      payload: {
        query: { ...q, ...(q.subjectRef ? { subjectRef: pseudonymOf(q.subjectRef) } : {}) },
        returned: page.entries.length,
        pageHash: contentHash(body),
      },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    res.json(body);
  });

  router.get('/audit/entries/:entryId', async (req, res) => {
    const entryId = String(req.params.entryId);
    if (!UUID.test(entryId)) throw new GatewayError('not_found', 'There is no audit entry with that id.');
    const found = await getEntry(deps.pool, entryId);
    if (!found) throw new GatewayError('not_found', 'There is no audit entry with that id.');
    const entry = await deps.ledger.append({
      kind: 'audit_read',
      outcome: 'served',
      requestId: requestIdOf(res),
      actor: actorOf(principalOf(res)),
      payload: { entryId, returned: 1, pageHash: contentHash(found) },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    res.json(found);
  });

  router.get('/audit/verify', async (_req, res) => {
    const chain = await verifyLedger(deps.pool);
    const checkpoints = await verifyWith({
      pool: deps.pool,
      keys: deps.keys,
      sinks: deps.sinks ?? [],
      ...(deps.witnesses ? { witnesses: deps.witnesses } : {}),
      quorum: deps.quorum ?? 0,
      ...(deps.macKey ? { macKey: deps.macKey } : {}),
    });
    const report = {
      summary: describeVerification(chain, checkpoints),
      ...chain,
      ok: chain.ok && checkpoints.ok,
      trustedUpTo: Math.min(chain.trustedUpTo, checkpoints.trustedUpTo),
      sealedUpTo: Math.min(checkpoints.trustedUpTo, chain.lastSeq),
      checkpoints,
    };
    const entry = await deps.ledger.append({
      kind: 'audit_verify',
      outcome: report.ok ? 'intact' : 'broken',
      requestId: requestIdOf(res),
      actor: actorOf(principalOf(res)),
      payload: {
        entriesChecked: report.entriesChecked,
        lastSeq: report.lastSeq,
        firstBadSeq: report.firstBadSeq ?? null,
        trustedUpTo: report.trustedUpTo,
        checkpointsChecked: checkpoints.checkpointsChecked,
      },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    res.json(report);
  });
  return router;
}
