import type { Key, ReactNode } from "react";

export interface Column<T> {
  /** header text */
  header: string;
  cell: (row: T) => ReactNode;
  /** hide on phones (< 640 px) to keep rows readable */
  hideOnMobile?: boolean;
  align?: "start" | "end";
}

export interface DataTableProps<T> {
  rows: readonly T[];
  columns: ReadonlyArray<Column<T>>;
  rowKey: (row: T) => Key;
  /** accessible name of the table */
  label: string;
  empty?: ReactNode;
  /** makes rows clickable (the first cell should also hold a real link for keyboard users) */
  onRowClick?: (row: T) => void;
}

export function DataTable<T>({ rows, columns, rowKey, label, empty, onRowClick }: DataTableProps<T>) {
  if (rows.length === 0) return <div className="empty">{empty ?? "Nothing here yet."}</div>;
  return (
    <div className="table-wrap">
      <table className="table" aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col" className={cellClass(c)}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr
              key={rowKey(row)}
              className={onRowClick ? "clickable" : undefined}
              onClick={onRowClick ? () => onRowClick(row) : undefined}
            >
              {columns.map((c) => (
                <td key={c.header} className={cellClass(c)}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function cellClass<T>(c: Column<T>): string | undefined {
  const cls = [c.hideOnMobile ? "hide-mobile" : "", c.align === "end" ? "num" : ""].filter(Boolean).join(" ");
  return cls || undefined;
}
