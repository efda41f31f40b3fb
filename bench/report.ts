/** How the bench prints its figures: numbers in en-GB, percentages, CPU per request, and a Markdown table. */
import type { CpuUse } from './processes';

export const msPerRequest = (c: CpuUse, rps: number): string => (rps > 0 ? ((1000 * c.server) / rps).toFixed(3) : '-');
export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const pct = (r: number): string => `${(100 * r).toFixed(0)}%`;

export function table(rows: Array<[string, string, string, string]>): string {
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
