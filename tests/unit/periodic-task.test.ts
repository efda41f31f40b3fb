/** The one lifecycle of the sealer and the dispatcher (src/periodic-task.ts). */
import { periodicTask } from '../../src/periodic-task';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('periodicTask', () => {
  it('serialises runs: runNow waits for the run in progress, and runs never overlap', async () => {
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    let n = 0;
    const task = periodicTask(
      async () => {
        const me = ++n;
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(20);
        order.push(me);
        active--;
        return me;
      },
      { intervalMs: 5, onError: () => undefined },
    );
    const results = await Promise.all([task.runNow(), task.runNow(), task.runNow()]);
    await task.stop();
    expect(maxActive).toBe(1);
    expect(results).toEqual([...results].sort((a, b) => a - b));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('goes on after a failed periodic run and reports it; runNow callers get the rejection', async () => {
    const errors: unknown[] = [];
    const results: number[] = [];
    let calls = 0;
    const task = periodicTask(
      async () => {
        calls++;
        if (calls === 1) throw new Error('first run fails');
        return calls;
      },
      { intervalMs: 10, runOnStart: true, onError: (e) => errors.push(e), onResult: (r) => results.push(r) },
    );
    while (results.length < 2) await sleep(5);
    await task.stop();
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('first run fails');
    expect(results.slice(0, 2)).toEqual([2, 3]);

    const failing = periodicTask(async () => Promise.reject(new Error('nope')), {
      intervalMs: 60_000,
      autoStart: false,
      onError: () => undefined,
    });
    await expect(failing.runNow()).rejects.toThrow('nope');
  });

  it('stop() cancels the schedule and waits for the run in progress', async () => {
    let finished = 0;
    let started = 0;
    const task = periodicTask(
      async () => {
        started++;
        await sleep(30);
        finished++;
      },
      { intervalMs: 1, runOnStart: true, onError: () => undefined },
    );
    await sleep(5);
    await task.stop();
    expect(finished).toBe(started);
    const after = started;
    await sleep(30);
    expect(started).toBe(after);
  });

  it('refuses a non-positive interval', () => {
    expect(() => periodicTask(async () => 1, { intervalMs: 0, onError: () => undefined })).toThrow(RangeError);
  });
});
