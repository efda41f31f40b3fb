/**
 * The periodic sealer: seals the ledger every `intervalMs` (only the first worker runs one).
 */
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { GatewayKeys } from '../../keys/gateway-keys';
import type { SubtreeCache } from '../subtree-cache';
import { CheckpointError } from './statement';
import { sealLedger, type SealResult } from './seal';
import type { CheckpointSink } from './sinks';


export interface CheckpointerOptions {
  readonly pool: Pool;
  readonly keys: GatewayKeys;
  /** Time between seals (ms). */
  readonly intervalMs: number;
  readonly sinks: readonly CheckpointSink[];
  readonly logger: Logger;
  readonly cache?: SubtreeCache;
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
  const { pool, keys, intervalMs, sinks, logger } = options;
  if (!Number.isInteger(intervalMs) || intervalMs < 1000) throw new RangeError('intervalMs must be a whole number of at least 1000');
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  const seal = (): Promise<SealResult> => {
    const next = running.then(() =>
      sealLedger(pool, keys.key('ledger'), { sinks, jwks: keys.jwks(), ...(options.cache ? { cache: options.cache } : {}) }),
    );
    running = next.catch(() => undefined);
    return next;
  };

  const tick = async (): Promise<void> => {
    timer = undefined;
    try {
      const r = await seal();
      if (r.created && r.checkpoint) {
        logger.info({ treeSize: r.checkpoint.treeSize, rootHash: r.checkpoint.rootHash, kid: r.checkpoint.kid }, 'audit ledger sealed');
      }
      for (const f of r.sinkFailures) logger.warn({ sink: f.sink, err: f.message }, 'could not export a ledger checkpoint; it will be retried');
    } catch (e) {
      const code = e instanceof CheckpointError ? e.code : 'error';
      logger.error({ err: e, code }, 'the audit ledger could not be sealed: it may have been tampered with; run npm run audit:verify');
    }
    if (!stopped) schedule();
  };
  const schedule = (): void => {
    timer = setTimeout(() => void tick(), intervalMs);
    timer.unref();
  };

  if (options.sealOnStart) void tick();
  else schedule();

  return {
    sealNow: seal,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

