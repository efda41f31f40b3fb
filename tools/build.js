#!/usr/bin/env node
/**
 * The build every script runs first: `tsc -b tsconfig.build.json` (incremental: when nothing changed it only
 * compares content hashes, about 0.3 s), then removes compiled files whose TypeScript source is gone. tsc never
 * deletes outputs, and a stale `dist/src/x.js` left by a module that became `src/x/index.ts` would be loaded
 * instead of the new one.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, rmSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const TOPS = ['src', 'migrations', 'bench'];

/** Whether every TypeScript source has its compiled file: tsc -b trusts its build info and never restores a deleted one. */
function outputsPresent(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return true;
  }
  for (const e of entries) {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!outputsPresent(file)) return false;
      continue;
    }
    if (!e.name.endsWith('.ts') || e.name.endsWith('.d.ts')) continue;
    if (!existsSync(path.join(dist, path.relative(root, dir), `${e.name.slice(0, -3)}.js`))) return false;
  }
  return true;
}
// A compiled file deleted by hand (or by a half-finished clean) would otherwise be missing at start: build it all again.
const force = !TOPS.every((top) => outputsPresent(path.join(root, top)));
const built = spawnSync(process.execPath, [tsc, '-b', ...(force ? ['--force'] : []), path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (built.status !== 0) process.exit(built.status ?? 1);

function prune(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) {
      prune(file);
      continue;
    }
    const m = /^(.*)\.js(\.map)?$/.exec(e.name);
    if (!m) continue;
    const source = path.join(root, path.relative(dist, dir), `${m[1]}.ts`);
    if (!existsSync(source)) rmSync(file, { force: true });
  }
}
for (const top of TOPS) prune(path.join(dist, top));
