/**
 * Proofs about the audit ledger that anybody can check without trusting the gateway (src/audit/checkpoints/,
 * src/audit/receipts.ts):
 *
 *   GET  /v1/audit/entries/{id}/proof  a receipt for one entry: the signed checkpoint covering it and its inclusion
 *                                      proof (or `sealed: false` before a checkpoint covers it). The auditor, or the
 *                                      agency whose principal made the entry; anybody else gets 404.
 *   GET  /v1/audit/checkpoints         the signed checkpoints, newest first (auditor).
 *   POST /v1/audit/checkpoints         seal now (auditor); 201 with the new checkpoint, 200 when nothing is new.
 *
 * Every call is recorded in the ledger before its answer is sent. MOUNT THIS ROUTER BEFORE auditRouter: that one
 * requires the auditor role for every /audit path, and agencies may fetch their own receipts.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors';
import { contentHash, type AuditKind, type AuditLedger } from '../../audit/entry';
import {
  CheckpointError,
  listCheckpoints,
  sealWith,
  SubtreeCache,
  toExportFile,
  type CheckpointSink,
  type Checkpointer,
  type SealResult,
  type WitnessClient,
} from '../../audit/checkpoints';
import type { EntryMacKey } from '../../audit/entry-mac';
import { buildReceipt, findEntryForProof, LedgerIntegrityError } from '../../audit/receipts';
import { principalOf, requireRole } from '../../auth/middleware';
import type { GatewayKeys } from '../../keys/gateway-keys';
import { actorOf } from '../../audit/actor';
import { requestIdOf } from '../context';

/** The ledger kind recorded for POST /v1/audit/checkpoints. Switch to 'ledger_checkpoint' once AuditKind has it. */
export const CHECKPOINT_AUDIT_KIND: AuditKind = 'ledger_checkpoint';

export interface LedgerProofsDeps {
  readonly ledger: AuditLedger;
  readonly pool: Pool;
  readonly keys: GatewayKeys;
  readonly sinks: readonly CheckpointSink[];
  readonly logger: Logger;
  /** The periodic sealer, if one runs in this process: on-demand seals queue behind its seal in progress. */
  readonly checkpointer?: Checkpointer;
  /** Subtree roots shared with the sealer (default: a cache of this router's own). */
  readonly cache?: SubtreeCache;
  readonly macKey?: EntryMacKey;
  readonly witnesses?: readonly WitnessClient[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NO_ENTRY = 'There is no audit entry with that id.';
const MAX_LIMIT = 200;

function wholeNumber(raw: unknown, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    const detail = `${name} must be a whole number from ${min} to ${max}.`;
    throw new GatewayError('bad_request', detail, { errors: [{ pointer: `/${name}`, detail }] });
  }
  return Number(raw);
}

function onlyParams(query: Request['query'], allowed: readonly string[]): void {
  for (const name of Object.keys(query)) {
    if (!allowed.includes(name)) {
      const detail = `Unknown query parameter ${name}; allowed: ${allowed.join(', ') || 'none'}.`;
      throw new GatewayError('bad_request', detail, { errors: [{ pointer: `/${name.slice(0, 60)}`, detail: 'unknown parameter' }] });
    }
  }
}

export function ledgerProofsRouter(deps: LedgerProofsDeps): Router {
  const router = Router();
  const cache = deps.cache ?? new SubtreeCache();
  const auditorOnly = requireRole('auditor');

  router.get('/audit/entries/:entryId/proof', async (req: Request, res: Response) => {
    onlyParams(req.query, ['treeSize']);
    const treeSize = wholeNumber(req.query.treeSize, 'treeSize', 1, Number.MAX_SAFE_INTEGER);
    const entryId = String(req.params.entryId).toLowerCase();
    if (!UUID.test(entryId)) throw new GatewayError('not_found', NO_ENTRY);
    const principal = principalOf(res);
    const subject = await findEntryForProof(deps.pool, entryId);
    // Another agency's entry is answered exactly like a missing one: its existence is not disclosed.
    if (!subject || (principal.role !== 'auditor' && principal.agency.id !== subject.agencyId))
      throw new GatewayError('not_found', NO_ENTRY);
    let receipt;
    try {
      receipt = await buildReceipt(deps.pool, subject, { jwks: deps.keys.jwks(), cache, ...(treeSize !== undefined ? { treeSize } : {}) });
    } catch (e) {
      if (!(e instanceof LedgerIntegrityError)) throw e;
      deps.logger.error(
        { err: e, entryId, seq: subject.seq },
        'the audit ledger no longer matches its signed checkpoint: run npm run audit:verify',
      );
      throw new GatewayError(
        'internal',
        'The gateway could not prove this entry against its signed checkpoint. This has been logged for the auditors; nothing was ' +
          'disclosed.',
      );
    }
    const entry = await deps.ledger.append({
      kind: 'audit_read',
      outcome: 'served',
      requestId: requestIdOf(res),
      actor: actorOf(principal),
      payload: {
        entryId,
        receipt: true,
        sealed: receipt.sealed,
        treeSize: receipt.sealed ? receipt.treeSize : null,
        returned: 1,
        pageHash: contentHash(receipt),
      },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    res.json(receipt);
  });

  router.get('/audit/checkpoints', auditorOnly, async (req: Request, res: Response) => {
    onlyParams(req.query, ['before', 'limit']);
    const before = wholeNumber(req.query.before, 'before', 1, Number.MAX_SAFE_INTEGER);
    const limit = wholeNumber(req.query.limit, 'limit', 1, MAX_LIMIT) ?? 50;
    const page = await listCheckpoints(deps.pool, { ...(before !== undefined ? { before } : {}), limit: limit + 1 });
    const checkpoints = page.slice(0, limit).map(toExportFile);
    const last = checkpoints[checkpoints.length - 1];
    const body = { checkpoints, ...(page.length > limit && last ? { nextBefore: last.treeSize } : {}) };
    const entry = await deps.ledger.append({
      kind: 'audit_read',
      outcome: 'served',
      requestId: requestIdOf(res),
      actor: actorOf(principalOf(res)),
      payload: { checkpoints: true, before: before ?? null, limit, returned: checkpoints.length, pageHash: contentHash(body) },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    res.json(body);
  });

  router.post('/audit/checkpoints', auditorOnly, async (req: Request, res: Response, next: NextFunction) => {
    onlyParams(req.query, []);
    let result: SealResult;
    try {
      result = deps.checkpointer
        ? await deps.checkpointer.sealNow()
        : await sealWith({
            pool: deps.pool,
            keys: deps.keys,
            sinks: deps.sinks,
            cache,
            ...(deps.macKey ? { macKey: deps.macKey } : {}),
            ...(deps.witnesses ? { witnesses: deps.witnesses } : {}),
          });
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      deps.logger.error(
        { err: e, code: e.code },
        'the audit ledger could not be sealed: it may have been tampered with; run npm run audit:verify',
      );
      next(new GatewayError('conflict', `The ledger was not sealed: ${e.message}.`));
      return;
    }
    for (const f of result.sinkFailures)
      deps.logger.warn({ sink: f.sink, err: f.message }, 'could not export a ledger checkpoint; it will be retried');
    const checkpoint = result.checkpoint ? toExportFile(result.checkpoint) : null;
    const body = {
      created: result.created,
      checkpoint,
      exportedTo: deps.sinks.filter((s) => !result.sinkFailures.some((f) => f.sink === s.name)).length,
      exportFailures: result.sinkFailures.length,
    };
    const entry = await deps.ledger.append({
      kind: CHECKPOINT_AUDIT_KIND,
      outcome: result.created ? 'sealed' : checkpoint ? 'nothing_new' : 'empty',
      requestId: requestIdOf(res),
      actor: actorOf(principalOf(res)),
      payload: {
        action: 'seal',
        treeSize: checkpoint?.treeSize ?? null,
        rootHash: checkpoint?.rootHash ?? null,
        created: result.created,
        exportFailures: result.sinkFailures.length,
      },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    res.status(result.created ? 201 : 200).json(body);
  });

  return router;
}
