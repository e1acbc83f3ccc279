/** Plain-text tables and CSV for the tracking CLI (no colors, no library). */

/** Left-aligned columns separated by two spaces, with a dashed rule under the header. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? "").padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** RFC 4180 CSV (quotes only where needed). */
export function formatCsv(header: string[], rows: string[][]): string {
  const cell = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  return [header, ...rows].map((r) => r.map((c) => cell(c ?? "")).join(",")).join("\n");
}
