import type { ReactNode } from "react";
import Markdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";

/*
 * Renders the Markdown the hub writes (model cards) with react-markdown and GFM (pipe tables).
 * It builds React elements, never HTML: raw HTML in the source shows as text, so text from the
 * registry (names, reasons) cannot inject markup. Only the elements a card uses are drawn;
 * links and images are reduced to their text, so a card cannot fetch from or point to elsewhere.
 */

/** A hast element, as much of it as the table rewrite reads. */
interface HastNode {
  type: string;
  tagName?: string;
  properties?: Record<string, unknown>;
  children?: HastNode[];
  value?: string;
}

const text = (n: HastNode): string => (n.type === "text" ? (n.value ?? "") : (n.children ?? []).map(text).join(""));
const elements = (n: HastNode | undefined, tag: string) =>
  (n?.children ?? []).filter((c) => c.type === "element" && c.tagName === tag);

/**
 * The console's table markup for a card's key/value and confusion tables: a header row of empty
 * cells is dropped, header cells are column headers, and each body row's first cell is its row
 * header.
 */
function cardTables() {
  const visit = (n: HastNode) => {
    if (n.type === "element" && n.tagName === "table") {
      const thead = elements(n, "thead")[0];
      const headCells = elements(elements(thead, "tr")[0], "th");
      if (thead && headCells.every((c) => text(c).trim() === "")) n.children = n.children?.filter((c) => c !== thead);
      else for (const th of headCells) th.properties = { ...th.properties, scope: "col" };
      for (const tr of elements(elements(n, "tbody")[0], "tr")) {
        const first = elements(tr, "td")[0];
        if (first && tr.children?.find((c) => c.type === "element") === first) {
          first.tagName = "th";
          first.properties = { ...first.properties, scope: "row" };
        }
      }
    }
    for (const c of n.children ?? []) visit(c);
  };
  return (tree: HastNode) => visit(tree);
}

/** a heading demoted by `offset` levels, at most h6 */
const heading =
  (level: number, offset: number): Components["h1"] =>
  ({ children }) => {
    const H = `h${Math.min(6, level + offset)}` as "h3";
    return <H>{children}</H>;
  };

const ALLOWED = [
  ...["h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "blockquote", "pre", "hr"],
  ...["table", "thead", "tbody", "tr", "th", "td"],
  ...["code", "strong", "em", "del", "br"],
];

const table: Components["table"] = ({ children }): ReactNode => (
  <div className="table-wrap">
    <table className="table ml-table">{children}</table>
  </div>
);

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
      <Markdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={[cardTables]}
        components={{ ...components, table }}
        allowedElements={ALLOWED}
        unwrapDisallowed
      >
        {source}
      </Markdown>
    </div>
  );
}
