import { labelColor } from "./label-colors";
import type { DraftObject } from "./label-draft";

/** The objects of the label, each selectable, relabelable and deletable without the mouse on the image. */
export function ObjectList({
  objects,
  labels,
  selectedKey,
  onSelect,
  onRelabel,
  onDelete,
  readOnly,
}: {
  objects: readonly DraftObject[];
  labels: readonly string[];
  selectedKey: string | null;
  onSelect(key: string | null): void;
  onRelabel(key: string, label: string): void;
  onDelete(key: string): void;
  readOnly: boolean;
}) {
  if (objects.length === 0) {
    return <p className="muted">No box or mask. Press B to draw a box, M to paint a mask.</p>;
  }
  return (
    <ul className="lab-objects" aria-label="Objects">
      {objects.map((o, i) => {
        const sel = o.key === selectedKey;
        const kind = [o.box ? "box" : null, o.mask ? "mask" : null].filter(Boolean).join(" + ");
        return (
          <li key={o.key} className={sel ? "selected" : undefined} data-testid="label-object">
            <button
              type="button"
              className="lab-obj-pick"
              aria-pressed={sel}
              onClick={() => onSelect(sel ? null : o.key)}
              style={{ borderColor: labelColor(labels, o.label) }}
            >
              #{i + 1} {kind}
              {o.box ? (
                <span className="muted mono">
                  {" "}
                  {Math.round(o.box.w)}×{Math.round(o.box.h)}
                </span>
              ) : null}
            </button>
            <label className="visually-hidden" htmlFor={`obj-label-${o.key}`}>
              Label of object {i + 1}
            </label>
            <select
              id={`obj-label-${o.key}`}
              value={o.label}
              disabled={readOnly}
              onChange={(e) => onRelabel(o.key, e.target.value)}
            >
              {labels.map((l) => (
                <option key={l} value={l}>
                  {l}
                </option>
              ))}
            </select>
            <button
              type="button"
              className="btn btn-ghost btn-sm"
              aria-label={`Delete object ${i + 1}`}
              disabled={readOnly}
              onClick={() => onDelete(o.key)}
            >
              ✕
            </button>
          </li>
        );
      })}
    </ul>
  );
}
