/**
 * The processes a bench measures: waiting until one answers 200, stopping it, the CPU it (with all its descendants)
 * and PostgreSQL use during a measurement, and how the scheduler served them: time on a core against time runnable
 * but waiting for one (Linux /proc).
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

/** Every live process: its parent and its CPU ticks, its own and those of its children that ended (Linux /proc). */
function processTable(): Map<number, { ppid: number; ticks: number }> {
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
  return stats;
}

/** The pids of a process and its live descendants. */
function treePids(rootPid: number, stats = processTable()): number[] {
  const pids: number[] = [];
  const todo = [rootPid];
  while (todo.length) {
    const pid = todo.pop() as number;
    if (pids.includes(pid)) continue;
    pids.push(pid);
    for (const [child, s] of stats) if (s.ppid === pid) todo.push(child);
  }
  return pids;
}

/** CPU seconds (user + system) used so far by a process and all its descendants, ended ones included (Linux /proc; 100 ticks/s). */
export function treeCpuSeconds(rootPid: number | undefined, stats = processTable()): number {
  if (rootPid === undefined) return 0;
  return treePids(rootPid, stats).reduce((sum, pid) => sum + (stats.get(pid)?.ticks ?? 0), 0) / 100;
}

/** Nanoseconds a process's main thread spent on a core and runnable but waiting for one, so far (/proc/<pid>/task/<pid>/schedstat); zeros where unknown. */
function schedstat(pid: number): { onCpu: number; waiting: number } {
  try {
    const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return Number.isFinite(onCpu) && Number.isFinite(waiting)
      ? { onCpu: onCpu as number, waiting: waiting as number }
      : { onCpu: 0, waiting: 0 };
  } catch {
    return { onCpu: 0, waiting: 0 };
  }
}

/** Nanoseconds PostgreSQL's processes (single-threaded: one schedstat each) spent waiting for a core, so far. */
function treeWaitingNs(rootPid: number | undefined, stats: Map<number, { ppid: number; ticks: number }>): number {
  return rootPid === undefined ? 0 : treePids(rootPid, stats).reduce((sum, pid) => sum + schedstat(pid).waiting, 0);
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
  /**
   * How the scheduler served them, as fractions of the measurement's wall time: the server's main (JavaScript)
   * thread on a core and runnable but waiting for one (what is left of 1 is the thread idle: waiting for I/O, e.g. a
   * ledger commit), and PostgreSQL's processes waiting for a core (in cores). Absent where /proc has no schedstat.
   */
  readonly schedule?: {
    readonly mainThreadOnCpu: number;
    readonly mainThreadWaitingForCpu: number;
    readonly postgresWaitingForCpu: number;
  };
}

export async function measured<T>(
  serverPid: number | undefined,
  pgPid: number | undefined,
  seconds: number,
  run: () => Promise<T>,
): Promise<{ result: T; cpu: CpuUse }> {
  // One read of /proc before the run and one after: every figure of each side comes from the same table.
  const before = processTable();
  const s0 = treeCpuSeconds(serverPid, before);
  const p0 = treeCpuSeconds(pgPid, before);
  const main0 = serverPid === undefined ? undefined : schedstat(serverPid);
  const pgWait0 = treeWaitingNs(pgPid, before);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = await run();
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  const c1 = process.cpuUsage(c0);
  const after = processTable();
  const main1 = serverPid === undefined ? undefined : schedstat(serverPid);
  const pgWait1 = treeWaitingNs(pgPid, after);
  const cores = (x: number) => Math.round((100 * x) / seconds) / 100;
  // Of the wall time the run really took (the load generator's start and finish included), so that the parts add up.
  const ofWall = (ns: number) => Math.round((100 * ns) / elapsedNs) / 100;
  const known = main0 !== undefined && main1 !== undefined && main1.onCpu > main0.onCpu;
  return {
    result,
    cpu: {
      server: cores(treeCpuSeconds(serverPid, after) - s0),
      postgres: cores(treeCpuSeconds(pgPid, after) - p0),
      loadGenerator: cores((c1.user + c1.system) / 1e6),
      ...(known
        ? {
            schedule: {
              mainThreadOnCpu: ofWall(main1.onCpu - main0.onCpu),
              mainThreadWaitingForCpu: ofWall(main1.waiting - main0.waiting),
              postgresWaitingForCpu: ofWall(pgWait1 - pgWait0),
            },
          }
        : {}),
    },
  };
}
