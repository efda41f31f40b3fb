/**
 * Server-rendered SVG charts for the auditor console: no script, no inline styles (CSP), colours that are not the
 * only carrier of meaning (every chart has a title, a description and a data table alternative on the page).
 */
import { escapeXml } from './xml';

export interface Series {
  readonly key: string;
  readonly label: string;
  readonly colour: string;
}

export interface StackedBarsInput {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** x categories in order (e.g. days). */
  readonly categories: readonly string[];
  readonly series: readonly Series[];
  /** value(category, seriesKey) */
  readonly value: (category: string, key: string) => number;
}

const FONT = 14;

function niceMax(max: number): number {
  if (max <= 5) return 5;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= max) return step * magnitude;
  return 10 * magnitude;
}

/** Vertical stacked bars: one bar per category, one segment per series. */
export function stackedBarChart(input: StackedBarsInput): string {
  const width = 760;
  const height = 320;
  const left = 50;
  const bottom = 60;
  const top = 20;
  const plotW = width - left - 20;
  const plotH = height - top - bottom;
  const totals = input.categories.map((c) => input.series.reduce((sum, s) => sum + input.value(c, s.key), 0));
  const max = niceMax(Math.max(0, ...totals));
  const slot = input.categories.length > 0 ? plotW / input.categories.length : plotW;
  const barW = Math.max(4, Math.min(40, slot * 0.7));
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  for (let i = 0; i <= 5; i += 1) {
    const v = (max / 5) * i;
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#b1b4b6" stroke-width="1"/>`,
    );
    parts.push(
      `<text x="${left - 8}" y="${(y(v) + 5).toFixed(1)}" text-anchor="end" font-size="${FONT}" fill="#0b0c0c">${Number.isInteger(v) ? v : v.toFixed(1)}</text>`,
    );
  }
  input.categories.forEach((c, i) => {
    const x = left + slot * i + (slot - barW) / 2;
    let base = 0;
    for (const s of input.series) {
      const v = input.value(c, s.key);
      if (v <= 0) continue;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(base + v).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(base) - y(base + v)).toFixed(1)}" fill="${s.colour}"><title>${escapeXml(`${c}: ${s.label} ${v}`)}</title></rect>`,
      );
      base += v;
    }
    const every = Math.ceil(input.categories.length / 10);
    if (i % every === 0) {
      parts.push(
        `<text x="${(x + barW / 2).toFixed(1)}" y="${top + plotH + 20}" text-anchor="middle" font-size="${FONT - 2}" fill="#0b0c0c">${escapeXml(c.slice(5))}</text>`,
      );
    }
  });
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#0b0c0c" stroke-width="2"/>`);
  input.series.forEach((s, i) => {
    const lx = left + i * 170;
    parts.push(`<rect x="${lx}" y="${height - 22}" width="14" height="14" fill="${s.colour}" stroke="#0b0c0c"/>`);
    parts.push(`<text x="${lx + 20}" y="${height - 10}" font-size="${FONT - 1}" fill="#0b0c0c">${escapeXml(s.label)}</text>`);
  });
  return svg(input.id, input.title, input.description, width, height, parts);
}

export interface HorizontalBarsInput {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly bars: ReadonlyArray<{ readonly label: string; readonly value: number }>;
  readonly colour: string;
  /** Shown when there are no bars. */
  readonly emptyText?: string;
}

/** Words of a label in lines of at most `max` characters (never cut: a long rule title wraps). */
function wrap(label: string, max: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of label.split(/\s+/)) {
    if (line && `${line} ${word}`.length > max) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * Horizontal bars, each with its label in full above it (wrapped, never cut off) and its value at the end of the bar.
 */
export function horizontalBarChart(input: HorizontalBarsInput): string {
  const width = 760;
  const left = 10;
  const lineH = 18;
  const barH = 18;
  const top = 10;
  const plotW = width - left - 70;
  const max = niceMax(Math.max(0, ...input.bars.map((b) => b.value)));
  const parts: string[] = [];
  let yy = top;
  for (const b of input.bars) {
    const lines = wrap(b.label, 88);
    lines.forEach((line, i) =>
      parts.push(`<text x="${left}" y="${yy + 14 + i * lineH}" font-size="${FONT - 1}" fill="#0b0c0c">${escapeXml(line)}</text>`),
    );
    const barY = yy + lines.length * lineH + 4;
    const w = (b.value / max) * plotW;
    parts.push(
      `<rect x="${left}" y="${barY}" width="${Math.max(1, w).toFixed(1)}" height="${barH}" fill="${input.colour}"><title>${escapeXml(`${b.label}: ${b.value}`)}</title></rect>`,
    );
    parts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${barY + 14}" font-size="${FONT - 1}" fill="#0b0c0c">${b.value}</text>`);
    yy = barY + barH + 14;
  }
  if (input.bars.length === 0) {
    parts.push(
      `<text x="${left}" y="${top + 20}" font-size="${FONT}" fill="#0b0c0c">${escapeXml(input.emptyText ?? 'Nothing in this period')}</text>`,
    );
    yy = top + 40;
  }
  return svg(input.id, input.title, input.description, width, yy + 6, parts);
}

function svg(id: string, title: string, description: string, width: number, height: number, parts: readonly string[]): string {
  const safeId = id.replace(/[^A-Za-z0-9_-]/g, '');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="app-chart" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" aria-labelledby="${safeId}-title ${safeId}-desc" focusable="false">` +
    `<title id="${safeId}-title">${escapeXml(title)}</title><desc id="${safeId}-desc">${escapeXml(description)}</desc>` +
    `${parts.join('')}</svg>`
  );
}
