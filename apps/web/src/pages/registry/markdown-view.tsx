import { Fragment, type ReactNode } from "react";

/*
 * Renders the Markdown the hub writes (model cards): headings, pipe tables, "- " lists and
 * paragraphs, with `code` and **bold** inline. Built as React elements, never as HTML, so
 * text from the registry (names, reasons) cannot inject markup.
 */

function inline(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*/g;
  let last = 0;
  let k = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(m[1] !== undefined ? <code key={k++}>{m[1]}</code> : <strong key={k++}>{m[2]}</strong>);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

const cells = (row: string) =>
  row
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((c) => c.trim());

type Block =
  | { kind: "h"; level: number; text: string }
  | { kind: "p"; text: string }
  | { kind: "ul"; items: string[] }
  | { kind: "table"; head: string[]; rows: string[][] };

function parse(md: string): Block[] {
  const lines = md.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; ) {
    const line = lines[i]!;
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    if (h) {
      blocks.push({ kind: "h", level: h[1]!.length, text: h[2]! });
      i++;
    } else if (line.startsWith("|")) {
      const rows: string[][] = [];
      while (i < lines.length && lines[i]!.startsWith("|")) rows.push(cells(lines[i++]!));
      const sep = rows[1]?.every((c) => /^:?-+:?$/.test(c));
      blocks.push(sep ? { kind: "table", head: rows[0]!, rows: rows.slice(2) } : { kind: "table", head: [], rows });
    } else if (line.startsWith("- ")) {
      const items: string[] = [];
      while (i < lines.length && lines[i]!.startsWith("- ")) items.push(lines[i++]!.slice(2));
      blocks.push({ kind: "ul", items });
    } else if (line.trim() === "") {
      i++;
    } else {
      const para: string[] = [];
      while (i < lines.length && lines[i]!.trim() !== "" && !/^(#|\||- )/.test(lines[i]!)) para.push(lines[i++]!);
      blocks.push({ kind: "p", text: para.join(" ") });
    }
  }
  return blocks;
}

/** `headingOffset` demotes headings so a card's "#" sits under the page's own h1 and card h2. */
export function MarkdownView({ source, headingOffset = 2 }: { source: string; headingOffset?: number }) {
  return (
    <div className="reg-markdown">
      {parse(source).map((b, i) => {
        const key = `${b.kind}${i}`;
        switch (b.kind) {
          case "h": {
            const level = Math.min(6, b.level + headingOffset);
            const H = `h${level}` as "h3";
            return <H key={key}>{inline(b.text)}</H>;
          }
          case "p":
            return <p key={key}>{inline(b.text)}</p>;
          case "ul":
            return (
              <ul key={key}>
                {b.items.map((it, j) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: list items have no identity beyond order
                  <li key={j}>{inline(it)}</li>
                ))}
              </ul>
            );
          case "table":
            return (
              <div key={key} className="table-wrap">
                <table className="table ml-table">
                  {b.head.some((c) => c) ? (
                    <thead>
                      <tr>
                        {b.head.map((c, j) => (
                          // biome-ignore lint/suspicious/noArrayIndexKey: columns are positional
                          <th key={j} scope="col">
                            {inline(c)}
                          </th>
                        ))}
                      </tr>
                    </thead>
                  ) : null}
                  <tbody>
                    {b.rows.map((r, j) => (
                      // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional
                      <tr key={j}>
                        {r.map((c, k) => (
                          // biome-ignore lint/suspicious/noArrayIndexKey: columns are positional
                          <Fragment key={k}>
                            {k === 0 ? <th scope="row">{inline(c)}</th> : <td>{inline(c)}</td>}
                          </Fragment>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
          default:
            return null;
        }
      })}
    </div>
  );
}
