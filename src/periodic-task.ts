/**
 * One lifecycle for background work that runs every so often (the ledger sealer, the notifications dispatcher):
 *
 *   - runs are serialised: `runNow()` queues behind a run in progress, and a timer run never overlaps either;
 *   - the next timer run is scheduled `intervalMs` after the previous one FINISHED (never a pile-up under load);
 *   - a failed run is reported to `onError` and the schedule goes on (the task is not dead after one error);
 *   - the timer is unref'd (it never keeps the process alive);
 *   - `stop()` cancels the timer and resolves once the run in progress, if any, has finished.
 */
export interface PeriodicTask<T> {
  /** One run now, serialised with the periodic runs. Rejects as the run does. */
  runNow(): Promise<T>;
  /** No more periodic runs; resolves when the run in progress (if any) has finished. */
  stop(): Promise<void>;
}

export interface PeriodicTaskOptions<T> {
  /** Time from the end of one periodic run to the start of the next (ms). */
  readonly intervalMs: number;
  /** A periodic run failed (a `runNow()` caller gets the rejection instead). */
  readonly onError: (error: unknown) => void;
  /** A periodic run finished. */
  readonly onResult?: (result: T) => void;
  /** Start the schedule now (default true). */
  readonly autoStart?: boolean;
  /** The first periodic run right away rather than after `intervalMs` (default false). */
  readonly runOnStart?: boolean;
}

export function periodicTask<T>(run: () => Promise<T>, options: PeriodicTaskOptions<T>): PeriodicTask<T> {
  if (!Number.isFinite(options.intervalMs) || options.intervalMs < 1) throw new RangeError('intervalMs must be a positive number');
  let chain: Promise<unknown> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const runNow = (): Promise<T> => {
    const next = chain.then(run, run);
    chain = next.catch(() => undefined);
    return next;
  };

  const tick = async (): Promise<void> => {
    timer = undefined;
    try {
      const result = await runNow();
      options.onResult?.(result);
    } catch (e) {
      options.onError(e);
    }
    schedule();
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void tick(), options.intervalMs);
    timer.unref();
  };

  if (options.autoStart ?? true) {
    if (options.runOnStart) void tick();
    else schedule();
  }

  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await chain;
    },
  };
}
