/**
 * The house rules, checked on the source itself so that they stay true: one configuration path, one transaction
 * helper, small files.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : name.endsWith('.ts') ? [full] : [];
  });
}

/** The code of a file without its comments (so that documentation may name what the code must not do). */
function code(file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const files = sources(path.join(ROOT, 'src'));
const rel = (f: string): string => path.relative(ROOT, f);

describe('house rules', () => {
  it('only src/config.ts reads process.env (everything else takes the GatewayConfig)', () => {
    expect(files.filter((f) => /process\.env\b/.test(code(f))).map(rel)).toEqual(['src/config.ts']);
  });

  it('only src/db/tx.ts writes BEGIN, COMMIT or ROLLBACK', () => {
    const statement = /['"`]\s*(BEGIN|COMMIT|ROLLBACK)\b/;
    expect(files.filter((f) => statement.test(code(f))).map(rel)).toEqual(['src/db/tx.ts']);
  });

  it('the domain does not import the HTTP edge or the pages', () => {
    const domain = /^src\/(audit|auth|db|decisions|keys|notifications|policy|records|vocabulary)\//;
    const edge = /from '(\.\.\/)+(http|web)\//;
    expect(files.filter((f) => domain.test(rel(f)) && edge.test(code(f))).map(rel)).toEqual([]);
  });

  it('the domain throws its own refusals (RefusalError codes), never the HTTP-shaped GatewayError', () => {
    const domain = /^src\/(audit|decisions|notifications|policy|records|workflows)\//;
    expect(files.filter((f) => domain.test(rel(f)) && /\bGatewayError\b/.test(code(f))).map(rel)).toEqual([]);
  });

  it('no file in src/ is over 500 lines', () => {
    const long = files.map((f) => ({ file: rel(f), lines: readFileSync(f, 'utf8').split('\n').length - 1 })).filter((f) => f.lines > 500);
    expect(long).toEqual([]);
  });
});
