/**
 * CSV for the auditor's export (RFC 4180), safe to open in a spreadsheet: a cell that starts with = + - @, a tab
 * or a carriage return would be run as a formula by Excel, LibreOffice or Google Sheets ("CSV injection"), so it
 * gets a leading single quote, which spreadsheets show as text. Every cell is quoted when it needs to be.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(cells: ReadonlyArray<string | number | boolean | null | undefined>): string {
  return cells.map(csvCell).join(',');
}

/** Lines end CRLF as RFC 4180 says. A UTF-8 byte order mark lets spreadsheets read accented names correctly. */
export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | boolean | null | undefined>>): string {
  return `\uFEFF${[csvRow(header), ...rows.map(csvRow)].join('\r\n')}\r\n`;
}
