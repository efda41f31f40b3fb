/**
 * What the serving thread and the sealer thread (./sealer-thread.ts, ./sealer-handle.ts) say to each other. All of it
 * is plain data, copied by postMessage's structured clone: the thread builds its own pool, keys, sinks, witnesses
 * and MAC key from `SealerThreadData`, a seal's result crosses as it is (SealResult is plain), an error as its
 * class name, message and code (rebuilt on this side: a CheckpointError stays a CheckpointError).
 */
import type { GatewayConfig } from '../../config';
import type { GatewayKeys, KeyUse } from '../../keys/gateway-keys';
import { CheckpointError, type CheckpointErrorCode } from './statement';
import type { SealResult } from './seal';

/** Everything the thread seals with, in its configuration form (as src/gateway.ts assemble() builds it). */
export interface SealerThreadData {
  readonly appDatabaseUrl: string;
  /** How long its pool waits for a new connection (absent: no limit, as pg). */
  readonly connectionTimeoutMs?: number;
  readonly dataDir: string;
  readonly keys: Readonly<Partial<Record<KeyUse, string>>>;
  /** LEDGER_ORIGIN: the note key's name. */
  readonly origin: string;
  /** LEDGER_MAC_KEY (the secret; the thread derives the entry MAC key as the ledger writer does). */
  readonly macKey: string;
  /** LEDGER_WITNESSES as configured. */
  readonly witnesses: string;
  readonly exportDir: string;
  readonly mirrorDir?: string;
  readonly intervalMs: number;
  /** The serving thread's log level: the thread's lines are filtered as the serving thread's are. */
  readonly logLevel: string;
  /**
   * The keys the serving thread publishes (/.well-known/jwks.json, the note verifier key): the thread refuses to start
   * with others (keys rotated on disk since the gateway started), rather than sign checkpoints nobody can check.
   */
  readonly expect: { readonly ledgerKid: string; readonly noteVkey: string };
}

export function sealerThreadData(
  config: GatewayConfig,
  appDatabaseUrl: string,
  keys: GatewayKeys,
  extra: { readonly logLevel: string; readonly connectionTimeoutMs?: number | undefined },
): SealerThreadData {
  return {
    appDatabaseUrl,
    ...(extra.connectionTimeoutMs === undefined ? {} : { connectionTimeoutMs: extra.connectionTimeoutMs }),
    dataDir: config.dataDir,
    keys: config.keys,
    origin: config.ledger.origin,
    macKey: config.ledger.macKey,
    witnesses: config.ledger.witnesses,
    exportDir: config.checkpoints.exportDir,
    ...(config.checkpoints.mirrorDir ? { mirrorDir: config.checkpoints.mirrorDir } : {}),
    intervalMs: config.checkpoints.intervalMs,
    logLevel: extra.logLevel,
    expect: { ledgerKid: keys.key('ledger').kid, noteVkey: keys.note().vkey },
  };
}

/** An error as it crosses: a CheckpointError keeps its code; any other keeps a string `code` (SQLSTATE, errno). */
export interface WireError {
  readonly checkpoint: boolean;
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

export type ToThread = { readonly type: 'seal'; readonly id: number } | { readonly type: 'stop' };

export type FromThread =
  | { readonly type: 'sealed'; readonly id: number; readonly result: SealResult }
  | { readonly type: 'failed'; readonly id: number; readonly error: WireError }
  /** One pino line of the thread's, for the serving thread's logger. */
  | { readonly type: 'log'; readonly line: string }
  /** Subtree roots the thread's seals met (hex), for the serving thread's receipt cache. */
  | { readonly type: 'subtrees'; readonly items: ReadonlyArray<{ readonly start: number; readonly level: number; readonly hash: string }> };

export function toWire(e: unknown): WireError {
  if (e instanceof CheckpointError) return { checkpoint: true, name: e.name, message: e.message, code: e.code };
  const error = e instanceof Error ? e : new Error(String(e));
  const code = (error as { code?: unknown }).code;
  return { checkpoint: false, name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
}

export function fromWire(w: WireError): Error {
  if (w.checkpoint) return new CheckpointError(w.code as CheckpointErrorCode, w.message);
  const error = new Error(w.message) as Error & { code?: string };
  error.name = w.name;
  if (w.code !== undefined) error.code = w.code;
  return error;
}
