import type { Task } from "@kensa/contracts";
import type { Tool } from "./label-canvas";

/** Each drawing tool, its button name and its key. */
export const TOOL_KEYS: ReadonlyArray<readonly [Tool, name: string, key: string]> = [
  ["box", "Box", "B"],
  ["brush", "Brush", "M"],
  ["eraser", "Eraser", "E"],
  ["polygon", "Polygon", "P"],
];

/**
 * The drawing tools that make sense for a project's task. A classification label is the image's
 * class alone, so it gets none; detection trains on boxes; segmentation on masks (brush, eraser,
 * polygon). Anomaly results mark regions by box and outline, and no built-in trainer restricts
 * their labels, so every tool is offered there.
 */
export function toolsFor(task: Task): readonly Tool[] {
  switch (task) {
    case "classification":
      return [];
    case "detection":
      return ["box"];
    case "segmentation":
      return ["brush", "eraser", "polygon"];
    case "anomaly":
      return ["box", "brush", "eraser", "polygon"];
  }
}

/** Whether the brush size matters (a brush or the eraser is among the tools). */
export function usesBrush(tools: readonly Tool[]): boolean {
  return tools.includes("brush") || tools.includes("eraser");
}

/** Shortcut handlers choosing each of `tools` by its key ("b", "m", …). */
export function toolShortcuts(tools: readonly Tool[], choose: (t: Tool) => void): Record<string, () => void> {
  return Object.fromEntries(
    TOOL_KEYS.filter(([t]) => tools.includes(t)).map(([t, , key]) => [key.toLowerCase(), () => choose(t)]),
  );
}
