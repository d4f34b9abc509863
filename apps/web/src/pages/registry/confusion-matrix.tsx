/**
 * A confusion matrix as a heat-map table: rows are the true label, columns the predicted one;
 * a cell's shade is its share of the row (so a rare class reads as clearly as a common one),
 * green on the diagonal, red off it. The count is always printed: colour only repeats it.
 */
export function ConfusionMatrix({
  labels,
  matrix,
  caption,
}: {
  labels: readonly string[];
  matrix: number[][];
  caption: string;
}) {
  return (
    <div className="table-wrap">
      <table className="reg-cm" data-testid="confusion-matrix">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col" className="reg-cm-corner">
              true ↓ / predicted →
            </th>
            {labels.map((l) => (
              <th key={l} scope="col">
                {l}
              </th>
            ))}
            <th scope="col">recall</th>
          </tr>
        </thead>
        <tbody>
          {labels.map((truth, i) => {
            const row = matrix[i] ?? [];
            const total = row.reduce((a, b) => a + b, 0);
            return (
              <tr key={truth}>
                <th scope="row">{truth}</th>
                {labels.map((pred, j) => {
                  const n = row[j] ?? 0;
                  const share = total ? n / total : 0;
                  const hue = i === j ? "21, 128, 61" : "185, 28, 28";
                  return (
                    <td
                      key={pred}
                      className="reg-cm-cell"
                      style={{
                        background: `rgba(${hue}, ${(0.08 + 0.8 * share).toFixed(3)})`,
                        color: share > 0.55 ? "#fff" : undefined,
                      }}
                      title={`${truth} predicted as ${pred}: ${n} of ${total}`}
                    >
                      {n}
                    </td>
                  );
                })}
                <td className="num">{total ? ((row[i] ?? 0) / total).toFixed(2) : "–"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
