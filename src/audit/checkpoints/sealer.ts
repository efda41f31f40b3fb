/**
 * The periodic sealer: seals the ledger every `intervalMs` (default 1000: an answer's entry is sealed, exported and
 * sent to the witnesses within about a second); a tick with nothing new costs one indexed query. Only the first
 * worker runs one, in a thread of its own (./sealer-thread.ts; ./sealer-handle.ts is the serving thread's side)
 * unless assemble is told 'in-process'; the lifecycle is src/periodic-task.ts. `sealWith` is the one way the gateway
 * seals (periodic or on demand), with every option wired.
 */
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { GatewayKeys } from '../../keys/gateway-keys';
import type { SubtreeCache } from '../subtree-cache';
import { CheckpointError } from './statement';
import { sealLedger, type SealResult } from './seal';
import type { CheckpointSink } from './sinks';
import { periodicTask } from '../../periodic-task';
import type { EntryMacKey } from '../entry-mac';
import type { WitnessClient } from './witnesses';

/** Everything a seal needs, built once by the composition root. */
export interface SealContext {
  readonly pool: Pool;
  readonly keys: GatewayKeys;
  readonly sinks: readonly CheckpointSink[];
  readonly cache?: SubtreeCache;
  readonly macKey?: EntryMacKey;
  readonly witnesses?: readonly WitnessClient[];
}

export function sealWith(ctx: SealContext): Promise<SealResult> {
  return sealLedger(ctx.pool, ctx.keys.key('ledger'), {
    sinks: ctx.sinks,
    jwks: ctx.keys.jwks(),
    noteKey: ctx.keys.note(),
    ...(ctx.cache ? { cache: ctx.cache } : {}),
    ...(ctx.macKey ? { macKey: ctx.macKey } : {}),
    ...(ctx.witnesses ? { witnesses: ctx.witnesses } : {}),
  });
}

export interface CheckpointerOptions extends SealContext {
  /** Time between seals (ms). */
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Seal once right away as well (default false). */
  readonly sealOnStart?: boolean;
}

export interface Checkpointer {
  /** Seal now (queued behind a seal in progress). Rejects as sealLedger does. */
  sealNow(): Promise<SealResult>;
  /** No more seals; resolves when the one in progress (if any) has finished. */
  stop(): Promise<void>;
}

export function startCheckpointer(options: CheckpointerOptions): Checkpointer {
  const { intervalMs, logger } = options;
  if (!Number.isInteger(intervalMs) || intervalMs < 100) throw new RangeError('intervalMs must be a whole number of at least 100');
  const seal = (): Promise<SealResult> => sealWith(options);
  const task = periodicTask(seal, {
    intervalMs,
    runOnStart: options.sealOnStart ?? false,
    onResult: (r) => {
      if (r.created && r.checkpoint) {
        logger.debug({ treeSize: r.checkpoint.treeSize, rootHash: r.checkpoint.rootHash, kid: r.checkpoint.kid }, 'audit ledger sealed');
      }
      for (const f of r.sinkFailures)
        logger.warn({ sink: f.sink, err: f.message }, 'could not export a ledger checkpoint; it will be retried');
    },
    onError: (e) => {
      const code = e instanceof CheckpointError ? e.code : 'error';
      logger.error({ err: e, code }, 'the audit ledger could not be sealed: it may have been tampered with; run npm run audit:verify');
    },
  });
  return { sealNow: () => task.runNow(), stop: () => task.stop() };
}
