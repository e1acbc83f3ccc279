/** CSV export of the visible runs table (RFC 4180 quoting; formulas neutralised for spreadsheet safety). */

/** One CSV field: quoted when needed; a leading `=`, `+`, `-`, `@` on a non-number gets a `'` prefix. */
export function csvField(v: string | number | undefined | null): string {
  if (v === undefined || v === null) return "";
  let s = String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s) && Number.isNaN(Number(s))) s = "'" + s;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The CSV text of a header row and data rows (CRLF line ends, as RFC 4180 says). */
export function toCsv(header: string[], rows: (string | number | undefined | null)[][]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}
