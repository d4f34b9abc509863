import { Dialog } from "../../ui";
import type { Tool } from "./label-canvas";

/** The workspace's keys, in the order people learn them. The `?` key opens this. */
export const SHORTCUTS: ReadonlyArray<readonly [keys: string, what: string]> = [
  [
    "1 – 9",
    "pick class: relabels the selected object, else toggles the image class (classification) or sets the class to draw",
  ],
  ["B", "box tool: drag to draw, drag a box to move it, drag a corner to resize"],
  ["M", "mask brush (paints the selected object's mask, or a new object)"],
  ["E", "eraser (erases from the selected object's mask)"],
  ["P", "polygon: click the corners, click the first one, double-click or press Enter to fill"],
  ["[ / ]", "brush smaller / larger"],
  ["Delete", "delete the selected object"],
  ["Esc", "cancel the polygon, then clear the selection"],
  ["Ctrl + Z", "undo (Ctrl + Shift + Z or Ctrl + Y: redo)"],
  ["Enter", "save a new revision (closes an open polygon first)"],
  ["R", "mark reviewed (saves the current label as reviewed)"],
  ["N or →", "next sample in the queue"],
  ["←", "previous sample"],
  ["?", "show or hide this list"],
];

/** The rows that need a tool the project's task does not offer. */
const NEEDS: Readonly<Record<string, readonly Tool[]>> = {
  B: ["box"],
  M: ["brush"],
  E: ["eraser"],
  P: ["polygon"],
  "[ / ]": ["brush", "eraser"],
};

export function ShortcutHelp({ tools, open, onClose }: { tools: readonly Tool[]; open: boolean; onClose: () => void }) {
  const rows = SHORTCUTS.filter(([k]) => !NEEDS[k] || NEEDS[k].some((t) => tools.includes(t)));
  return (
    <Dialog open={open} title="Keyboard shortcuts" onClose={onClose}>
      <table className="table ml-table lab-keys" aria-label="Keyboard shortcuts">
        <tbody>
          {rows.map(([k, what]) => (
            <tr key={k}>
              <th scope="row">
                <kbd>{k}</kbd>
              </th>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Dialog>
  );
}
