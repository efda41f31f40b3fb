/**
 * The build every script runs first (tools/build.js): nothing is recompiled when `dist/` is current, and a compiled
 * file deleted by hand is built again (tsc -b alone trusts its build info and would leave it missing: the gateway
 * would then fail to start with MODULE_NOT_FOUND). Run on a copy of the checkout, never on the real `dist/`.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

describe('tools/build.js', () => {
  let copy: string;
  const build = (): void => {
    execFileSync(process.execPath, [path.join(copy, 'tools', 'build.js')], { cwd: copy, stdio: 'pipe', timeout: 120_000 });
  };

  beforeAll(() => {
    copy = mkdtempSync(path.join(os.tmpdir(), 'sg-build-'));
    for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'tools', 'src', 'migrations', 'bench', 'dist']) {
      if (existsSync(path.join(ROOT, entry))) cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
    }
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
    // Whatever state the copied dist/ was in, it is current after this.
    build();
  }, 180_000);
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  it('rewrites nothing when dist/ is current', () => {
    const file = path.join(copy, 'dist', 'src', 'gateway.js');
    const before = statSync(file).mtimeMs;
    build();
    expect(statSync(file).mtimeMs).toBe(before);
  });

  it('builds again a compiled file that was deleted, though no source changed', () => {
    const file = path.join(copy, 'dist', 'src', 'http', 'app.js');
    const content = readFileSync(file, 'utf8');
    rmSync(file);
    build();
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(content);
  }, 180_000);
});
