/**
 * The export and the charts on their own (no browser): CSV injection is neutralised, quoting is RFC 4180, and the
 * SVG charts carry their accessible name and description.
 */
import { csvCell, toCsv } from '../../src/web/csv';
import { horizontalBarChart, stackedBarChart } from '../../src/web/charts';

describe('CSV export cells', () => {
  it.each([
    ['=HYPERLINK("http://evil.example","click")', `"'=HYPERLINK(""http://evil.example"",""click"")"`],
    ['+SUM(A1:A9)', "'+SUM(A1:A9)"],
    ["-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"],
    ['@SUM(1,2)', `"'@SUM(1,2)"`],
    ['-e2e-formula-check', "'-e2e-formula-check"],
    ['\t=1+1', "'\t=1+1"],
    ['\r=1+1', `"'\r=1+1"`],
  ])('prefixes a cell that a spreadsheet would run as a formula: %j', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  it('leaves ordinary values alone and quotes commas, quotes and line breaks', () => {
    expect(csvCell('operation_encompass')).toBe('operation_encompass');
    expect(csvCell(42)).toBe('42');
    expect(csvCell(null)).toBe('');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "no"')).toBe('"say ""no"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('mid=dle')).toBe('mid=dle');
  });

  it('writes CRLF rows after a byte order mark', () => {
    expect(toCsv(['a', 'b'], [[1, '=x']])).toBe("\uFEFFa,b\r\n1,'=x\r\n");
  });
});

describe('SVG charts', () => {
  it('names and describes the chart for assistive technology, and escapes its text', () => {
    const svg = stackedBarChart({
      id: 'c1',
      title: 'Decisions <per> day',
      description: 'Stacked & described',
      categories: ['2026-11-01', '2026-11-02'],
      series: [{ key: 'permit', label: 'Share', colour: '#00703c' }],
      value: (c) => (c === '2026-11-02' ? 3 : 0),
    });
    expect(svg).toContain('role="img"');
    expect(svg).toContain('aria-labelledby="c1-title c1-desc"');
    expect(svg).toContain('<title id="c1-title">Decisions &lt;per&gt; day</title>');
    expect(svg).toContain('<desc id="c1-desc">Stacked &amp; described</desc>');
    expect(svg).not.toContain('style=');
    const bars = horizontalBarChart({ id: 'c2', title: 't', description: 'd', bars: [{ label: '<script>', value: 2 }], colour: '#d4351c' });
    expect(bars).toContain('&lt;script&gt;');
    expect(bars).not.toContain('<script>');
  });
});
