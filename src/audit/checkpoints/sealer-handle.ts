/**
 * The periodic sealer in a thread of its own (./sealer-thread.ts), seen from the serving thread as the `Checkpointer`
 * the in-process sealer is: `sealNow()` seals there (queued behind its seal in progress), `stop()` lets that seal
 * finish, then the thread ends its pool and ends. Under load a seal (reading back, re-hashing and MAC-checking every
 * new entry, Merkle hashing, signing, exporting) no longer takes the serving thread's time; a second core does it.
 *
 * Supervision: a thread that dies (a crash, an out-of-memory abort, a failed start) is logged as an error and started
 * again — at most `maxRestarts` in `windowMs` (default 5 in 10 minutes), with back-off — so sealing never stops
 * silently; after that it is logged that periodic sealing has stopped. While the thread is down `sealNow()` rejects
 * with SealerUnavailableError (code `sealer_unavailable`), as does a seal in progress when the thread dies.
 *
 * The thread's log lines are written by this thread's logger (the one `assemble` was given: same destination,
 * bindings and level), with `thread: 'sealer'`. The subtree roots its seals meet warm `cache`, the receipts' cache,
 * as the in-process sealer's seals warm it.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { SafeguardError } from '../../errors';
import { fromHex } from '../merkle';
import type { SubtreeCache } from '../subtree-cache';
import type { SealResult } from './seal';
import type { Checkpointer } from './sealer';
import { fromWire, type FromThread, type SealerThreadData, type ToThread } from './sealer-protocol';

/** The sealer thread is not running (stopped, restarting, or given up): nothing was sealed. */
export class SealerUnavailableError extends SafeguardError {
  readonly code = 'sealer_unavailable' as const;
}

export interface SealerThreadOptions {
  readonly data: SealerThreadData;
  readonly logger: Logger;
  /** Warmed with the subtree roots the thread's seals meet. */
  readonly cache?: SubtreeCache;
  /** Restarts of a thread that died, at most this many in `windowMs` (default 5 in 10 minutes). */
  readonly maxRestarts?: number;
  readonly windowMs?: number;
}

export interface SealerThread extends Checkpointer {
  /** The running thread's id; undefined while it is down and after `stop()`. */
  readonly threadId: number | undefined;
  /** Ends the thread as a crash would (it is restarted as after one): for the supervision tests. */
  crash(): Promise<void>;
}

/**
 * The thread's code. From dist/ (npm start, the bench: compiled JS) it is sealer-thread.js beside this file. From the
 * TypeScript source (jest compiles with @swc/jest inside its own module loader, which a Worker does not have), the
 * thread first registers a require hook compiling .ts with @swc/core — jest's compiler, a dev dependency, so present
 * wherever the source runs: the tests run the real thread on the current source, with no build step and no stale dist/.
 */
function newWorker(data: SealerThreadData): Worker {
  const entry = require.resolve('./sealer-thread');
  if (!entry.endsWith('.ts')) return new Worker(entry, { workerData: data });
  const hook = `
    const { readFileSync } = require('node:fs');
    const { transformSync } = require(${JSON.stringify(require.resolve('@swc/core'))});
    const options = {
      jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' },
      module: { type: 'commonjs' },
    };
    require.extensions['.ts'] = (module, filename) =>
      module._compile(transformSync(readFileSync(filename, 'utf8'), { ...options, filename }).code, filename);
    require(${JSON.stringify(entry)});`;
  return new Worker(hook, { eval: true, workerData: data });
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** One of the thread's pino lines, written again by `logger` (its time, pid and base are this logger's). */
function relay(logger: Logger, line: string): void {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const { level, msg, time: _time, pid: _pid, hostname: _hostname, service: _service, ...fields } = record;
  const label = LEVELS.find((l) => logger.levels.values[l] === level) ?? 'error';
  logger[label]({ thread: 'sealer', ...fields }, typeof msg === 'string' ? msg : '');
}

export function startSealerThread(options: SealerThreadOptions): SealerThread {
  const { logger, cache, maxRestarts = 5, windowMs = 600_000 } = options;
  const pending = new Map<number, { resolve(r: SealResult): void; reject(e: Error): void }>();
  const restarts: number[] = [];
  let worker: Worker | undefined;
  let stopping: Promise<void> | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let nextId = 1;

  // Like the in-process sealer's timer, an idle thread never keeps the process alive; a seal asked for, or stopping, does.
  const holdOpen = (): void => {
    if (pending.size > 0 || stopping) worker?.ref();
    else worker?.unref();
  };

  const settle = (id: number): { resolve(r: SealResult): void; reject(e: Error): void } | undefined => {
    const p = pending.get(id);
    pending.delete(id);
    holdOpen();
    return p;
  };

  const onMessage = (message: FromThread): void => {
    switch (message.type) {
      case 'log':
        relay(logger, message.line);
        return;
      case 'subtrees':
        for (const s of message.items) cache?.remember({ start: s.start, level: s.level }, fromHex(s.hash));
        return;
      case 'sealed':
        settle(message.id)?.resolve(message.result);
        return;
      case 'failed':
        settle(message.id)?.reject(fromWire(message.error));
        return;
    }
  };

  const restart = (code: number): void => {
    const now = Date.now();
    while (restarts.length > 0 && (restarts[0] as number) < now - windowMs) restarts.shift();
    if (restarts.length >= maxRestarts) {
      logger.error(
        { exitCode: code, restarts: restarts.length, windowMs },
        `The sealer thread stopped again (exit code ${code}) after ${restarts.length} restarts in ${Math.round(windowMs / 60_000)} ` +
          'minutes: giving up. The ledger is no longer sealed periodically; restart the gateway.',
      );
      return;
    }
    restarts.push(now);
    const delayMs = Math.min(500 * 2 ** (restarts.length - 1), 8000);
    logger.error(
      { exitCode: code, restart: restarts.length, maxRestarts, delayMs },
      `The sealer thread stopped unexpectedly (exit code ${code}); restarting it in ${delayMs} ms ` +
        `(restart ${restarts.length} of at most ${maxRestarts}).`,
    );
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (!stopping) spawn();
    }, delayMs);
    restartTimer.unref();
  };

  const spawn = (): void => {
    const w = newWorker(options.data);
    worker = w;
    holdOpen();
    w.on('message', onMessage);
    w.on('error', (e) => logger.error({ err: e, thread: 'sealer' }, 'the sealer thread failed'));
    w.once('exit', (code) => {
      worker = undefined;
      for (const id of [...pending.keys()])
        settle(id)?.reject(new SealerUnavailableError(`the sealer thread stopped (exit code ${code}) before the seal was done`));
      if (!stopping) restart(code);
    });
  };

  spawn();
  return {
    get threadId() {
      return worker?.threadId;
    },
    sealNow() {
      const w = worker;
      if (!w || stopping) {
        const why = stopping ? 'the sealer has stopped' : 'the sealer thread is not running (it is being restarted, or gave up)';
        return Promise.reject(new SealerUnavailableError(`${why}: nothing was sealed`));
      }
      const id = nextId++;
      return new Promise<SealResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        holdOpen();
        w.postMessage({ type: 'seal', id } satisfies ToThread);
      });
    },
    stop() {
      if (stopping) return stopping;
      if (restartTimer) clearTimeout(restartTimer);
      const w = worker;
      stopping = !w
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.postMessage({ type: 'stop' } satisfies ToThread);
          });
      holdOpen();
      return stopping;
    },
    async crash() {
      await worker?.terminate();
    },
  };
}
