/**
 * The ledger's standard checkpoint, for anybody (no authentication, no ledger entry: it discloses nothing but tree
 * sizes and hashes, and it is what outside monitors poll):
 *
 *   GET /v1/audit/checkpoint        the latest checkpoint as a C2SP tlog-checkpoint signed note, with the witnesses'
 *                                   cosignature lines (when witnesses are configured: the latest one with the quorum
 *                                   of cosignatures, if there is one). text/plain; verify it with Go's
 *                                   golang.org/x/mod/sumdb/note and the key below.
 *   GET /v1/audit/checkpoint/key    the note verifier key (Go sumdb/note vkey: <name>+<hash>+<keydata>), text/plain.
 *   GET /v1/audit/checkpoint/keys   every note key version (newest first), the JWKS and the witnesses, JSON.
 */
import { Router, type Request, type Response } from 'express';
import type { Pool } from 'pg';
import { GatewayError } from '../../errors';
import {
  cosignaturesFor,
  latestCheckpoint,
  latestCosignedCheckpoint,
  type CheckpointRecord,
  type WitnessClient,
} from '../../audit/checkpoints';
import type { Db } from '../../db/tx';
import type { GatewayKeys } from '../../keys/gateway-keys';

export interface PublicCheckpointDeps {
  readonly pool: Pool;
  readonly keys: GatewayKeys;
  readonly witnesses?: readonly WitnessClient[];
  readonly quorum?: number;
}

/** A checkpoint's note with the cosignature lines the database holds for it (null before notes existed). */
export async function cosignedNote(db: Db, checkpoint: CheckpointRecord): Promise<string | null> {
  if (!checkpoint.note) return null;
  const lines = await cosignaturesFor(db, checkpoint.treeSize);
  return `${checkpoint.note}${lines.map((l) => l.cosignature).join('')}`;
}

function onlyNoQuery(req: Request): void {
  const names = Object.keys(req.query);
  if (names.length > 0) {
    const detail = `Unknown query parameter ${names[0]?.slice(0, 60) ?? ''}; this resource takes none.`;
    throw new GatewayError('bad_request', detail, {
      errors: [{ pointer: `/${names[0]?.slice(0, 60) ?? ''}`, detail: 'unknown parameter' }],
    });
  }
}

export function publicCheckpointRouter(deps: PublicCheckpointDeps): Router {
  const router = Router();
  const quorum = deps.quorum ?? 0;

  router.get('/audit/checkpoint', async (req: Request, res: Response) => {
    onlyNoQuery(req);
    const checkpoint = (quorum > 0 ? await latestCosignedCheckpoint(deps.pool, quorum) : null) ?? (await latestCheckpoint(deps.pool));
    const note = checkpoint ? await cosignedNote(deps.pool, checkpoint) : null;
    if (!checkpoint || !note) throw new GatewayError('not_found', 'No checkpoint has been signed yet. Ask again in a second.');
    res.setHeader('Cache-Control', 'no-store');
    res.type('text/plain; charset=utf-8').send(note);
  });

  router.get('/audit/checkpoint/key', (req: Request, res: Response) => {
    onlyNoQuery(req);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('text/plain; charset=utf-8').send(`${deps.keys.note().vkey}\n`);
  });

  router.get('/audit/checkpoint/keys', (req: Request, res: Response) => {
    onlyNoQuery(req);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json({
      origin: deps.keys.origin,
      noteKeys: deps.keys.noteVerifiers().map((v) => v.text),
      jwks: deps.keys.jwks(),
      witnesses: (deps.witnesses ?? []).map((w) => ({ name: w.name, url: w.url, key: w.verifier.text })),
      quorum,
    });
  });

  return router;
}
