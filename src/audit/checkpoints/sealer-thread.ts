/**
 * The sealer thread (a node:worker_threads Worker of the serving process, started by ./sealer-handle.ts): the
 * periodic sealer (./sealer.ts startCheckpointer — the same seals, checks, exports, witnesses and log lines as on the
 * serving thread) with a pool, keys, sinks, witnesses and MAC key of its own, built from `workerData`
 * (./sealer-protocol.ts). Reading back, re-hashing and MAC-checking every new entry, Merkle hashing, signing and
 * exporting then cost the serving thread nothing.
 *
 *   'seal'  → one seal now, queued behind a seal in progress; answered 'sealed' or 'failed'.
 *   'stop'  → no more seals; the seal in progress finishes, the pool ends, and the thread ends with nothing left.
 *
 * Its log lines go to the serving thread's logger ('log'); the subtree roots its seals meet go to the serving
 * thread's receipt cache ('subtrees'), as the in-process sealer warms the cache it shares. If it cannot start (no
 * database settings, keys other than the gateway's), it throws: the serving thread logs why and restarts it.
 */
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { createLogger } from '../../logger';
import { createPool, type ManagedPool } from '../../db/pool';
import { loadGatewayKeys } from '../../keys/gateway-keys';
import { entryMacKey } from '../entry-mac';
import { toHex, type Subtree } from '../merkle';
import { SubtreeCache } from '../subtree-cache';
import { startCheckpointer, type Checkpointer } from './sealer';
import { directorySinks } from './sinks';
import { parseWitnessList } from './witnesses';
import { toWire, type FromThread, type SealerThreadData, type ToThread } from './sealer-protocol';

/** The thread's own cache (its witnesses' consistency proofs), which also hands what it learns to the serving thread. */
class ForwardingSubtreeCache extends SubtreeCache {
  private batch: Array<{ start: number; level: number; hash: string }> = [];
  constructor(private readonly send: (message: FromThread) => void) {
    super();
  }

  override remember(s: Subtree, hash: Buffer): void {
    if (s.level >= this.minLevel && !this.get(s)) {
      // One message per turn of the event loop, not one per subtree.
      if (this.batch.length === 0) setImmediate(() => this.flush());
      this.batch.push({ start: s.start, level: s.level, hash: toHex(hash) });
    }
    super.remember(s, hash);
  }

  private flush(): void {
    const items = this.batch;
    this.batch = [];
    if (items.length > 0) this.send({ type: 'subtrees', items });
  }
}

interface Running {
  readonly pool: ManagedPool;
  readonly checkpointer: Checkpointer;
  readonly logger: Logger;
}

async function begin(data: SealerThreadData, send: (message: FromThread) => void): Promise<Running> {
  const logger = createLogger(data.logLevel, { write: (line: string) => send({ type: 'log', line }) });
  const keys = await loadGatewayKeys(data.dataDir, data.keys, { origin: data.origin, create: false });
  if (keys.key('ledger').kid !== data.expect.ledgerKid || keys.note().vkey !== data.expect.noteVkey) {
    throw new Error(
      `the sealer thread found other signing keys in ${data.dataDir}/keys than the gateway publishes (ledger key ` +
        `${keys.key('ledger').kid}, published ${data.expect.ledgerKid}): were the keys rotated since it started? Restart the gateway.`,
    );
  }
  const timeouts = data.connectionTimeoutMs === undefined ? {} : { connectionTimeoutMillis: data.connectionTimeoutMs };
  const pool = createPool({ connectionString: data.appDatabaseUrl, max: 2, name: 'safeguard-gateway-sealer', ...timeouts }, logger);
  const checkpointer = startCheckpointer({
    pool,
    keys,
    sinks: directorySinks({ exportDir: data.exportDir, mirrorDir: data.mirrorDir }),
    cache: new ForwardingSubtreeCache(send),
    macKey: entryMacKey(data.macKey),
    witnesses: parseWitnessList(data.witnesses),
    intervalMs: data.intervalMs,
    logger,
  });
  return { pool, checkpointer, logger };
}

function run(port: MessagePort, data: SealerThreadData): void {
  const send = (message: FromThread): void => port.postMessage(message);
  const running = begin(data, send);
  // It cannot start: thrown outside any promise, so the thread ends with the error (the serving thread logs it).
  running.catch((e: unknown) =>
    setImmediate(() => {
      throw e;
    }),
  );
  const onMessage = (message: ToThread): void => {
    switch (message.type) {
      case 'seal':
        void running
          .then((r) => r.checkpointer.sealNow())
          .then(
            (result) => send({ type: 'sealed', id: message.id, result }),
            (e: unknown) => send({ type: 'failed', id: message.id, error: toWire(e) }),
          );
        return;
      case 'stop':
        // Without a listener on its port, and with the pool ended, nothing keeps the thread alive: it ends.
        port.off('message', onMessage);
        void running.then(
          async (r) => {
            await r.checkpointer.stop();
            r.pool.markClosing();
            await r.pool.end().catch((e: unknown) => r.logger.warn({ err: e }, 'error while closing the sealer pool'));
          },
          () => undefined, // it never started: it is ending with that error already
        );
        return;
    }
  };
  port.on('message', onMessage);
}

if (!isMainThread && parentPort) run(parentPort, workerData as SealerThreadData);
