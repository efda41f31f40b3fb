/**
 * The gateway and the bare Express route measured in alternating slices — gateway, bare, gateway, bare… — so that
 * the ratio between them compares the two on the same host at the same moments. On the shared 2-core bench machine
 * the speed drifts by ±30 % within minutes: measured one after the other, 10 s each, the ratio of one build swung
 * from 23 % to 41 % between runs a few minutes apart.
 *
 * Each side's figures are then those of its slices together: requests and errors added up, requests per second over
 * the time of its slices, CPU the mean of its slices (they are equally long), and latency percentiles over the time
 * of every response of every slice (autocannon's `response` events), not an average of the slices' percentiles.
 */
import type { CpuUse } from './processes';

/** What one load run gives (autocannon's figures), a slice's or a whole side's. */
export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly total: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly connections: number;
  readonly durationSeconds: number;
}

export interface Measured {
  readonly result: LoadResult;
  readonly cpu: CpuUse;
}

/**
 * How many slices each side gets for `duration` seconds of measurement: about 2.5 s each (4 for the default 10 s).
 * Shorter slices follow the host's drift more closely, but each slice starts with connections to open and ends with
 * answers still on their way, which costs the side with the longer latency (the gateway) a little more: at 2.5 s and
 * the gateway's ~20 ms, under 1 % of its figure.
 */
export function sliceCount(duration: number): number {
  return Math.max(1, Math.round(duration / 2.5));
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const round2 = (x: number): number => Math.round(100 * x) / 100;

/** The p-th percentile (0 < p ≤ 1) of sorted values: the smallest value with at least p of them at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
}

/** A side's slices as one load: counts added, rate over their time, percentiles over every response of every slice. */
export function combineLoads(slices: readonly LoadResult[], latencies: readonly number[]): LoadResult {
  const first = slices[0];
  if (!first) throw new Error('no slices to combine');
  const total = sum(slices.map((s) => s.total));
  const seconds = sum(slices.map((s) => s.durationSeconds));
  const sorted = [...latencies].sort((x, y) => x - y);
  const at = (p: number): number => Math.round(percentile(sorted, p));
  return {
    requestsPerSecond: total / seconds,
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    maxMs: Math.max(...slices.map((s) => s.maxMs)),
    total,
    non2xx: sum(slices.map((s) => s.non2xx)),
    errors: sum(slices.map((s) => s.errors)),
    timeouts: sum(slices.map((s) => s.timeouts)),
    connections: first.connections,
    durationSeconds: seconds,
  };
}

/** The mean of equally long slices' CPU figures (the scheduler's shares only if every slice has them). */
export function combineCpu(slices: readonly CpuUse[]): CpuUse {
  const mean = (pick: (c: CpuUse) => number): number => round2(sum(slices.map(pick)) / slices.length);
  const schedules = slices.map((c) => c.schedule);
  const all = schedules.every((s) => s !== undefined) ? (schedules as Array<NonNullable<CpuUse['schedule']>>) : [];
  const meanOf = (pick: (s: NonNullable<CpuUse['schedule']>) => number): number => round2(sum(all.map(pick)) / all.length);
  return {
    server: mean((c) => c.server),
    postgres: mean((c) => c.postgres),
    loadGenerator: mean((c) => c.loadGenerator),
    ...(all.length > 0
      ? {
          schedule: {
            mainThreadOnCpu: meanOf((s) => s.mainThreadOnCpu),
            mainThreadWaitingForCpu: meanOf((s) => s.mainThreadWaitingForCpu),
            postgresWaitingForCpu: meanOf((s) => s.postgresWaitingForCpu),
          },
        }
      : {}),
  };
}

/** One slice of a side: a measured load run that adds each response's time (ms) to `latencies`. */
export type Slice = (latencies?: number[]) => Promise<Measured>;

/** Runs `count` slices of each side in turn (a, b, a, b…) and gives each side's slices together. */
export async function alternate(a: Slice, b: Slice, count: number): Promise<{ a: Measured; b: Measured }> {
  const sides = [a, b].map((slice) => ({ slice, runs: [] as Measured[], latencies: [] as number[] }));
  for (let i = 0; i < count; i++) for (const side of sides) side.runs.push(await side.slice(side.latencies));
  const [x, y] = sides.map((side): Measured => ({
    result: combineLoads(
      side.runs.map((m) => m.result),
      side.latencies,
    ),
    cpu: combineCpu(side.runs.map((m) => m.cpu)),
  }));
  if (!x || !y) throw new Error('two sides were measured');
  return { a: x, b: y };
}
