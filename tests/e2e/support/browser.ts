/**
 * Debian's Chromium through playwright-core (never `npx playwright install`: there is no browser download here),
 * an axe-core check that fails on serious or critical violations, and screenshots under tests/e2e/artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');

export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Collects Content-Security-Policy violations and page errors: a page that needs an inline script is a bug. */
export function watchPage(page: Page): { problems: string[] } {
  const problems: string[] = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && /Content[- ]Security[- ]Policy|Refused to/i.test(text)) problems.push(`${page.url()}: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`${page.url()}: ${err.message}`));
  return { problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices. */
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/**
 * Runs axe-core (WCAG 2.0/2.1/2.2 A and AA rules) in the page. Injected through the DevTools protocol, so the
 * page's own CSP stays exactly as served.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  // Strings, not functions: this file is compiled without the DOM library, and the code runs in the page.
  const loaded = await page.evaluate<boolean>('typeof window.axe !== "undefined"');
  if (!loaded) await page.evaluate(AXE_SOURCE);
  return page.evaluate<AxeViolation[]>(`(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(AXE_TAGS)} } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target.map(String) })) }));
  })()`);
}

/** Fails with a readable list when axe finds serious or critical problems. */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  const violations = (await axeViolations(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const summary = violations.map(
    (v) =>
      `${v.impact} ${v.id}: ${v.help} at ${v.nodes
        .slice(0, 3)
        .map((n) => n.target.join(' '))
        .join('; ')}`,
  );
  expect({ page: name, violations: summary }).toEqual({ page: name, violations: [] });
}
