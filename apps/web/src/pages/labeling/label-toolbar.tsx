import { Button } from "../../ui";
import type { Tool } from "./label-canvas";
import { TOOL_KEYS, usesBrush } from "./task-tools";

/** The workspace's tools that fit the project's task, each with its key, the brush size and undo/redo. */
export function LabelToolbar(p: {
  /** the tools offered (see toolsFor) */
  tools: readonly Tool[];
  tool: Tool;
  onTool(t: Tool): void;
  /** image px */
  brushSize: number;
  maxBrush: number;
  onBrushSize(px: number): void;
  canUndo: boolean;
  canRedo: boolean;
  onUndo(): void;
  onRedo(): void;
  /** corners of the polygon being drawn */
  polygonCorners: number;
}) {
  return (
    <div className="lab-toolbar" role="toolbar" aria-label="Tools">
      {TOOL_KEYS.filter(([t]) => p.tools.includes(t)).map(([t, name, key]) => (
        <button
          key={t}
          type="button"
          className={`btn btn-sm ${p.tool === t ? "btn-primary" : "btn-secondary"}`}
          aria-pressed={p.tool === t}
          aria-keyshortcuts={key}
          onClick={() => p.onTool(t)}
        >
          {name} <kbd>{key}</kbd>
        </button>
      ))}
      {usesBrush(p.tools) ? (
        <label className="lab-brush">
          <span>Brush {p.brushSize} px</span>
          <input
            type="range"
            min={1}
            max={p.maxBrush}
            value={p.brushSize}
            onChange={(e) => p.onBrushSize(Number(e.target.value))}
            aria-label="Brush and eraser size, image pixels"
          />
        </label>
      ) : null}
      <Button size="sm" variant="ghost" onClick={p.onUndo} disabled={!p.canUndo} aria-keyshortcuts="Control+Z">
        Undo
      </Button>
      <Button size="sm" variant="ghost" onClick={p.onRedo} disabled={!p.canRedo} aria-keyshortcuts="Control+Shift+Z">
        Redo
      </Button>
      {p.polygonCorners ? (
        <span className="muted" role="status">
          {p.polygonCorners} corner(s): click the first corner or press Enter to fill
        </span>
      ) : null}
    </div>
  );
}
