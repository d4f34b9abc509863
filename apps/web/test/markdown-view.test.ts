import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { MarkdownView } from "../src/pages/registry/markdown-view.js";

/** the markup, without the line breaks react-markdown leaves between block elements */
const render = (source: string, headingOffset?: number) =>
  renderToStaticMarkup(createElement(MarkdownView, { source, headingOffset })).replace(/>\n</g, "><");

describe("the registry's Markdown view (model cards)", () => {
  it("draws a card with the console's table markup and headings under the page's own", () => {
    const card = [
      "# Model card: blemish",
      "",
      "| | |",
      "|---|---|",
      "| model version | `mv_1` (v2) |",
      "| stage | approved — **champion** (in service) |",
      "",
      "## Metrics",
      "",
      "Measured on snapshot `snap_1`",
      "(36 images).",
      "",
      "| | ok | scratch |",
      "|---|---|---|",
      "| **ok** | 18 | 0 |",
      "",
      "- first",
      "- second",
    ].join("\n");
    expect(render(card)).toBe(
      '<div class="reg-markdown"><h3>Model card: blemish</h3>' +
        '<div class="table-wrap"><table class="table ml-table"><tbody>' +
        '<tr><th scope="row">model version</th><td><code>mv_1</code> (v2)</td></tr>' +
        '<tr><th scope="row">stage</th><td>approved — <strong>champion</strong> (in service)</td></tr>' +
        "</tbody></table></div>" +
        "<h4>Metrics</h4><p>Measured on snapshot <code>snap_1</code>\n(36 images).</p>" +
        '<div class="table-wrap"><table class="table ml-table"><thead><tr>' +
        '<th scope="col"></th><th scope="col">ok</th><th scope="col">scratch</th></tr></thead><tbody>' +
        '<tr><th scope="row"><strong>ok</strong></th><td>18</td><td>0</td></tr></tbody></table></div>' +
        "<ul><li>first</li><li>second</li></ul></div>",
    );
    expect(render("# a\n##### e", 0)).toBe('<div class="reg-markdown"><h1>a</h1><h5>e</h5></div>');
    expect(render("##### e")).toBe('<div class="reg-markdown"><h6>e</h6></div>');
  });

  it("shows HTML from the registry as text, and reduces links and images to their text", () => {
    const html = render("Reason: <script>alert(1)</script> <img src=x onerror=alert(1)>");
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    const cell = render("| a | <b>x</b> |\n|---|---|\n| [y](javascript:alert(1)) | ![t](http://elsewhere/p.png) |");
    expect(cell).not.toMatch(/<a|<img|<b>|javascript:|elsewhere/);
    expect(cell).toContain("&lt;b&gt;x&lt;/b&gt;");
    expect(render("[click](javascript:alert(1)) and ![x](http://elsewhere/p.png)")).toBe(
      '<div class="reg-markdown"><p>click and </p></div>',
    );
  });

  it("keeps a table cell inline: what would start a list, heading or quote stays text", () => {
    const cells = ["1.", "-", "# h", "> q", "---", "[a]: b", "2) y", "**bold**"];
    const html = render(`| ${cells.join(" | ")} |\n|${cells.map(() => "---").join("|")}|`);
    expect(html).toBe(
      '<div class="reg-markdown"><div class="table-wrap"><table class="table ml-table"><thead><tr>' +
        '<th scope="col">1.</th><th scope="col">-</th><th scope="col"># h</th><th scope="col">&gt; q</th>' +
        '<th scope="col">---</th><th scope="col">[a]: b</th><th scope="col">2) y</th>' +
        '<th scope="col"><strong>bold</strong></th></tr></thead></table></div></div>',
    );
  });
});
