import type { Expression, ExpressionBuilder, SqlBool } from "kysely";
import type { SweepRow } from "./kind-sweep.js";

/**
 * `(c0, c1, …) > (v0, v1, …)` spelled out (row-value comparison is not in every SQLite build a
 * hub may run on): the rows strictly after `after` in the walk's order.
 */
export function afterRow<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  columns: readonly string[],
  after: SweepRow,
): Expression<SqlBool> {
  const values = [after.time, ...after.key];
  const ref = (c: string) => eb.ref(c as never);
  return eb.or(
    columns.map((_, i) =>
      eb.and([
        ...columns.slice(0, i).map((c, j) => eb(ref(c), "=", values[j] as never)),
        eb(ref(columns[i]!), ">", values[i] as never),
      ]),
    ),
  );
}
