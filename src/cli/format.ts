import { escapeControl } from '../log.js';

/** Left-aligned text table; cells carry source and target values, so each is escaped to stay on its row. */
export function table(headers: string[], rawRows: string[][]): string[] {
  const rows = rawRows.map((r) => r.map(escapeControl));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)];
}
