/**
 * Server-side rendering: nunjucks with the govuk-frontend macros on the search path, autoescaping on.
 * Views live in src/web/views and the page's own script and styles in src/web/public; both are found from this
 * file whether it runs from src/ (tests) or from dist/src/ (npm start), so the build needs no copy step.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import nunjucks from 'nunjucks';

function firstExisting(candidates: readonly string[], what: string): string {
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`Cannot find the web ${what} (looked in ${candidates.join(', ')})`);
  return found;
}

/** The project's src/web folder (also when this file was compiled into dist/src/web). */
function webSourceDir(sub: string): string {
  return firstExisting([path.join(__dirname, sub), path.resolve(__dirname, '..', '..', '..', 'src', 'web', sub)], sub);
}

/** node_modules/govuk-frontend/dist: holds govuk/template.njk, govuk/components/…, govuk/assets. */
export function govukFrontendDist(): string {
  // The package's main is dist/govuk/all.bundle.js.
  return path.resolve(path.dirname(require.resolve('govuk-frontend')), '..');
}

export const viewsDir = (): string => webSourceDir('views');
export const publicDir = (): string => webSourceDir('public');

export type Renderer = (template: string, context: Record<string, unknown>) => string;

export function createRenderer(): Renderer {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader([viewsDir(), govukFrontendDist()], { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
    trimBlocks: true,
    lstripBlocks: true,
  });
  return (template, context) => env.render(template, context);
}
