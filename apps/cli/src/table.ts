/** One column of a table: its header and how a row shows in it. */
export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
}

/** Rows as an aligned text table (header in capitals, two spaces between columns). */
export function formatTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => text(c.value(r))));
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** A list as a table, JSON (`--json`: the array), or "no <noun>" when empty. */
export function printList<T>(rows: T[], columns: Column<T>[], o: { json?: boolean }, noun: string): void {
  if (o.json) console.log(JSON.stringify(rows, null, 2));
  else if (rows.length === 0) console.log(`no ${noun}`);
  else console.log(formatTable(rows, columns));
}

/** One resource as `key  value` lines, or JSON (`--json`: the hub's object). */
export function printRecord(
  record: unknown,
  lines: Array<[string, string | number | null | undefined]>,
  o: { json?: boolean },
): void {
  if (o.json) {
    console.log(JSON.stringify(record, null, 2));
    return;
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) console.log(`${k.padEnd(width)}  ${text(v)}`);
}

function text(v: string | number | null | undefined): string {
  return v === null || v === undefined || v === "" ? "–" : String(v);
}

/** "3m ago" style age of an ISO time; "–" for none. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "–";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}
