import type { Key, ReactNode } from "react";
import "./data-table.css";

export interface Column<T> {
  /** header text */
  header: string;
  cell: (row: T) => ReactNode;
  /** hide on phones (< 640 px) to keep rows readable; cards (see `cards`) show every column */
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
  /**
   * On phones (< 640 px) each row becomes a card: the first cell its title, the others one per
   * line under their column's name, so wide tables need no sideways scrolling.
   */
  cards?: boolean;
}

export function DataTable<T>({ rows, columns, rowKey, label, empty, onRowClick, cards = false }: DataTableProps<T>) {
  if (rows.length === 0) return <div className="empty">{empty ?? "Nothing here yet."}</div>;
  const cls = (c: Column<T>) => cellClass(c, cards);
  return (
    <div className={cards ? "table-wrap table-cards" : "table-wrap"}>
      <table className="table" aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col" className={cls(c)}>
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
                <td key={c.header} className={cls(c)} data-label={c.header}>
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

function cellClass<T>(c: Column<T>, cards: boolean): string | undefined {
  const hide = c.hideOnMobile && !cards;
  const cls = [hide ? "hide-mobile" : "", c.align === "end" ? "num" : ""].filter(Boolean).join(" ");
  return cls || undefined;
}
