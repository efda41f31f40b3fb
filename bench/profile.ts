/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) of the gateway under load: where the time goes, by package or
 * source file — self time (the code itself) and inclusive time (with everything it called, e.g. jose including the
 * native signature check) — and the hottest functions.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly byModule: Array<{ module: string; selfMs: number; inclusiveMs: number; selfPct: number; inclusivePct: number }>;
  readonly topFunctions: Array<{ fn: string; module: string; selfMs: number; selfPct: number }>;
}

/** `jose`, `pg`, `src/audit/pg-ledger.ts`, `node:internal/...`, `(garbage collector)`, ... */
function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) {
    const m = /^node:(internal\/)?([a-z_]+)/.exec(url);
    return `node:${m?.[2] ?? url.slice(5)}`;
  }
  const src = url.indexOf('/dist/');
  if (src >= 0) return url.slice(src + '/dist/'.length).replace(/\.js$/, '.ts');
  return url.replace(/^file:\/\//, '');
}

export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const moduleSelf = new Map<string, number>();
  const moduleIncl = new Map<string, number>();
  const fnSelf = new Map<string, { module: string; us: number }>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const mod = moduleOf(url, functionName);
    moduleSelf.set(mod, (moduleSelf.get(mod) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${mod}:${lineNumber + 1}`;
    const f = fnSelf.get(key) ?? { module: mod, us: 0 };
    f.us += us;
    fnSelf.set(key, f);
    // Inclusive: every module on the stack of this sample (once each).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const m = moduleOf(n.callFrame.url, n.callFrame.functionName);
      if (m === '(root)' || seen.has(m)) continue;
      seen.add(m);
      moduleIncl.set(m, (moduleIncl.get(m) ?? 0) + us);
    }
  }
  const busy = Math.max(1, total - idle);
  const byModule = [...new Set([...moduleSelf.keys(), ...moduleIncl.keys()])]
    .map((m) => ({
      module: m,
      selfMs: (moduleSelf.get(m) ?? 0) / 1000,
      inclusiveMs: (moduleIncl.get(m) ?? 0) / 1000,
      selfPct: (100 * (moduleSelf.get(m) ?? 0)) / busy,
      inclusivePct: (100 * (moduleIncl.get(m) ?? 0)) / busy,
    }))
    .sort((a, b) => b.selfMs - a.selfMs);
  const topFunctions = [...fnSelf.entries()]
    .map(([fn, v]) => ({ fn, module: v.module, selfMs: v.us / 1000, selfPct: (100 * v.us) / busy }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top);
  return { totalMs: total / 1000, idleMs: idle / 1000, byModule, topFunctions };
}

export function formatProfile(summary: ProfileSummary, top = 20): string {
  const lines = [
    `CPU profile of the gateway process: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${((100 * summary.idleMs) / Math.max(1, summary.totalMs)).toFixed(0)}% idle; percentages of busy time.`,
    `  ${'module'.padEnd(44)} ${'self'.padStart(7)} ${'incl.'.padStart(7)}`,
    ...summary.byModule
      .slice(0, top)
      .map(
        (m) =>
          `  ${m.module.slice(0, 44).padEnd(44)} ${`${m.selfPct.toFixed(1)}%`.padStart(7)} ${`${m.inclusivePct.toFixed(1)}%`.padStart(7)}`,
      ),
    '  hottest functions (self):',
    ...summary.topFunctions.map((f) => `  ${`${f.selfPct.toFixed(1)}%`.padStart(6)}  ${f.fn.slice(0, 100)}`),
  ];
  return lines.join('\n');
}
