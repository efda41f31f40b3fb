/**
 * The processes a bench measures: waiting until one answers 200, stopping it, and the CPU it (with all its
 * descendants) and PostgreSQL use during a measurement (Linux /proc).
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

function getStatus(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

export async function waitFor(port: number, urlPath: string, child: ChildProcess, what: string, ms = 60_000, pollMs = 200): Promise<void> {
  const until = Date.now() + ms;
  while ((await getStatus(port, urlPath)) !== 200) {
    if (child.exitCode !== null) throw new Error(`${what} exited (code ${child.exitCode}) before it was ready`);
    if (Date.now() > until) throw new Error(`${what} was not ready within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export async function stopChild(child: ChildProcess, ms = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds (user + system) used so far by a process and all its descendants, ended ones included (Linux /proc; 100 ticks/s). */
export function treeCpuSeconds(rootPid: number | undefined): number {
  if (rootPid === undefined) return 0;
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // utime + stime, and cutime + cstime: the CPU of children that ended and were waited for (a PostgreSQL backend
      // that exits during a measurement keeps counting).
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      stats.set(Number(name), { ppid: Number(fields[1]), ticks });
    } catch {
      // The process ended meanwhile.
    }
  }
  let ticks = 0;
  const todo = [rootPid];
  const seen = new Set<number>();
  while (todo.length) {
    const pid = todo.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === pid) todo.push(child);
  }
  return ticks / 100;
}

/** The postmaster's pid, from postmaster.pid in the cluster directory. */
export function postmasterPid(clusterDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Cores used during a measured load by the server under test, PostgreSQL, and this process (the load generator). */
export interface CpuUse {
  readonly server: number;
  readonly postgres: number;
  readonly loadGenerator: number;
}

export async function measured<T>(
  serverPid: number | undefined,
  pgPid: number | undefined,
  seconds: number,
  run: () => Promise<T>,
): Promise<{ result: T; cpu: CpuUse }> {
  const s0 = treeCpuSeconds(serverPid);
  const p0 = treeCpuSeconds(pgPid);
  const c0 = process.cpuUsage();
  const result = await run();
  const c1 = process.cpuUsage(c0);
  const cores = (x: number) => Math.round((100 * x) / seconds) / 100;
  return {
    result,
    cpu: {
      server: cores(treeCpuSeconds(serverPid) - s0),
      postgres: cores(treeCpuSeconds(pgPid) - p0),
      loadGenerator: cores((c1.user + c1.system) / 1e6),
    },
  };
}
