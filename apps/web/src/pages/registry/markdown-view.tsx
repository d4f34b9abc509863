import { Fragment, type ReactNode } from "react";
import Markdown, { type Components } from "react-markdown";

/*
 * Renders the Markdown the hub writes (model cards) with react-markdown. It builds React
 * elements, never HTML: raw HTML in the source shows as text, so text from the registry
 * (names, reasons) cannot inject markup. Only the elements a card uses are drawn; links and
 * images are reduced to their text, so a card cannot fetch from or point to elsewhere.
 *
 * Pipe tables are GFM, outside the CommonMark react-markdown reads without remark-gfm; until
 * that plugin is a dependency, table blocks are cut out here and drawn with the console's table
 * markup, their cells rendered by react-markdown.
 */

const TABLE_LINE = /^\|/;

type Block = { kind: "md"; text: string } | { kind: "table"; head: string[]; rows: string[][] };

const cells = (row: string) =>
  row
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((c) => c.trim());

function blocks(md: string): Block[] {
  const out: Block[] = [];
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; ) {
    const run: string[] = [];
    const table = TABLE_LINE.test(lines[i]!);
    while (i < lines.length && TABLE_LINE.test(lines[i]!) === table) run.push(lines[i++]!);
    if (!table) {
      out.push({ kind: "md", text: run.join("\n") });
      continue;
    }
    const rows = run.map(cells);
    const sep = rows[1]?.every((c) => /^:?-+:?$/.test(c));
    out.push(sep ? { kind: "table", head: rows[0]!, rows: rows.slice(2) } : { kind: "table", head: [], rows });
  }
  return out;
}

/** a heading demoted by `offset` levels, at most h6 */
const heading =
  (level: number, offset: number): Components["h1"] =>
  ({ children }) => {
    const H = `h${Math.min(6, level + offset)}` as "h3";
    return <H>{children}</H>;
  };

const BLOCK = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "blockquote", "pre", "hr"];
const INLINE = ["code", "strong", "em", "del", "br"];
const unwrapP: Components = { p: ({ children }) => <>{children}</> };

/**
 * A table cell holds inline Markdown only (as in GFM): a leading marker that would start a
 * block on its own (`# `, `- `, `1. `, `> `, `---`, a fence, `[x]: y`) is escaped to stay text.
 */
function inlineOnly(cell: string): string {
  if (/^\d{1,9}[.)](\s|$)/.test(cell)) return cell.replace(/^(\d+)/, "$1\\");
  const block = /^(?:#{1,6}(?:\s|$)|>|[-+*](?:\s|$)|([-*_])(?:\s*\1){2,}\s*$|```|~~~|\[[^\]]*\]:)/;
  return block.test(cell) ? `\\${cell}` : cell;
}

function Inline({ text }: { text: string }): ReactNode {
  return (
    <Markdown allowedElements={["p", ...INLINE]} unwrapDisallowed components={unwrapP}>
      {inlineOnly(text)}
    </Markdown>
  );
}

/** `headingOffset` demotes headings so a card's "#" sits under the page's own h1 and card h2. */
export function MarkdownView({ source, headingOffset = 2 }: { source: string; headingOffset?: number }) {
  const components: Components = {
    h1: heading(1, headingOffset),
    h2: heading(2, headingOffset),
    h3: heading(3, headingOffset),
    h4: heading(4, headingOffset),
    h5: heading(5, headingOffset),
    h6: heading(6, headingOffset),
  };
  return (
    <div className="reg-markdown">
      {blocks(source).map((b, i) => {
        const key = `${b.kind}${i}`;
        if (b.kind === "md") {
          return (
            <Markdown key={key} components={components} allowedElements={[...BLOCK, ...INLINE]} unwrapDisallowed>
              {b.text}
            </Markdown>
          );
        }
        return (
          <div key={key} className="table-wrap">
            <table className="table ml-table">
              {b.head.some((c) => c) ? (
                <thead>
                  <tr>
                    {b.head.map((c, j) => (
                      // biome-ignore lint/suspicious/noArrayIndexKey: columns are positional
                      <th key={j} scope="col">
                        <Inline text={c} />
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
                        {k === 0 ? (
                          <th scope="row">
                            <Inline text={c} />
                          </th>
                        ) : (
                          <td>
                            <Inline text={c} />
                          </td>
                        )}
                      </Fragment>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        );
      })}
    </div>
  );
}
