/**
 * Compiles a TypeScript entry point and the relative modules it requires or resolves (swc, no type-check) into a temp dir
 * mirroring the repository, so a separate `node` process can run the real code (Node loads the ESM-only packages
 * itself there, which Jest's module loader cannot).
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { transformFileSync } from '@swc/core';

export const ROOT = path.resolve(__dirname, '..', '..');

/**
 * `withAssets`: link the non-TypeScript neighbours of every compiled module (templates, JSON, static files) beside
 * them, so a whole gateway (src/main.ts) runs from `outRoot`.
 */
export function compileForNode(entry: string, outRoot: string, options: { withAssets?: boolean } = {}): string {
  const done = new Set<string>();
  const dirs = new Set<string>();
  const visit = (file: string): void => {
    if (done.has(file)) return;
    done.add(file);
    dirs.add(path.dirname(file));
    const { code } = transformFileSync(file, {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    });
    const out = path.join(outRoot, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, code);
    // require.resolve too: a module a worker thread runs is named so (src/audit/checkpoints/sealer-handle.ts).
    for (const m of code.matchAll(/require(?:\.resolve)?\((["'])(\.{1,2}\/[^"']+)\1\)/g)) {
      const base = path.resolve(path.dirname(file), m[2] as string);
      const found = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => {
        try {
          readFileSync(c);
          return true;
        } catch {
          return false;
        }
      });
      if (found) visit(found);
    }
  };
  visit(path.join(ROOT, entry));
  if (options.withAssets) {
    for (const dir of dirs) {
      for (const name of readdirSync(dir)) {
        const source = path.join(dir, name);
        const target = path.join(outRoot, path.relative(ROOT, source));
        if (name.endsWith('.ts') || existsSync(target)) continue;
        if (lstatSync(source).isDirectory() && [...dirs].some((d) => d === source || d.startsWith(`${source}${path.sep}`))) continue;
        symlinkSync(source, target);
      }
    }
  }
  return path.join(outRoot, entry.replace(/\.ts$/, '.js'));
}
