/**
 * The bench's alternating slices (bench/slices.ts): the gateway and the bare route take turns, and each side's
 * figures are its slices together — percentiles over every response, not an average of the slices' percentiles.
 */
import { alternate, combineCpu, combineLoads, percentile, sliceCount, type LoadResult } from '../../bench/slices';

const slice = (total: number, seconds: number, extra: Partial<LoadResult> = {}): LoadResult => ({
  requestsPerSecond: total / seconds,
  p50Ms: 0,
  p90Ms: 0,
  p99Ms: 0,
  maxMs: 0,
  total,
  non2xx: 0,
  errors: 0,
  timeouts: 0,
  connections: 32,
  durationSeconds: seconds,
  ...extra,
});

describe('bench slices', () => {
  it('gives each side about 2.5 s a slice, and at least one', () => {
    expect(sliceCount(10)).toBe(4);
    expect(sliceCount(60)).toBe(24);
    expect(sliceCount(1)).toBe(1);
  });

  it('takes percentiles over every response of every slice', () => {
    const sorted = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(sorted, 0.5)).toBe(100);
    expect(percentile(sorted, 0.99)).toBe(198);
    expect(percentile([], 0.99)).toBe(0);
    // One fast slice and one slow one: the slow one's times set the p99, which averaging the two p99s would halve.
    const fast = Array.from({ length: 100 }, () => 5);
    const slow = Array.from({ length: 100 }, (_, i) => 50 + i);
    const together = combineLoads(
      [slice(100, 2, { p99Ms: 5, maxMs: 5 }), slice(100, 2, { p99Ms: 149, maxMs: 149, non2xx: 3 })],
      [...fast, ...slow],
    );
    expect(together.p50Ms).toBe(5);
    expect(together.p99Ms).toBe(147);
    expect(together.maxMs).toBe(149);
    expect(together.total).toBe(200);
    expect(together.non2xx).toBe(3);
    expect(together.requestsPerSecond).toBe(50);
    expect(together.durationSeconds).toBe(4);
  });

  it('averages equally long slices’ CPU, and the scheduler’s shares only when every slice has them', () => {
    const a = {
      server: 1,
      postgres: 0.2,
      loadGenerator: 0.1,
      schedule: { mainThreadOnCpu: 0.8, mainThreadWaitingForCpu: 0.1, postgresWaitingForCpu: 0.2 },
    };
    const b = {
      server: 0.8,
      postgres: 0.4,
      loadGenerator: 0.3,
      schedule: { mainThreadOnCpu: 0.9, mainThreadWaitingForCpu: 0.05, postgresWaitingForCpu: 0 },
    };
    expect(combineCpu([a, b])).toEqual({
      server: 0.9,
      postgres: 0.3,
      loadGenerator: 0.2,
      schedule: { mainThreadOnCpu: 0.85, mainThreadWaitingForCpu: 0.08, postgresWaitingForCpu: 0.1 },
    });
    expect(combineCpu([a, { server: 1, postgres: 0, loadGenerator: 0 }]).schedule).toBeUndefined();
  });

  it('runs the sides in turn and keeps each side’s responses apart', async () => {
    const order: string[] = [];
    const side = (name: string, ms: number) => (latencies?: number[]) => {
      order.push(name);
      latencies?.push(ms, ms);
      return Promise.resolve({ result: slice(2, 1), cpu: { server: 1, postgres: 0, loadGenerator: 0 } });
    };
    const { a, b } = await alternate(side('gateway', 20), side('bare', 4), 3);
    expect(order).toEqual(['gateway', 'bare', 'gateway', 'bare', 'gateway', 'bare']);
    expect(a.result.p99Ms).toBe(20);
    expect(b.result.p99Ms).toBe(4);
    expect(a.result.total).toBe(6);
    expect(a.result.durationSeconds).toBe(3);
  });
});
