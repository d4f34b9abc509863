import type { CSSProperties } from "react";
import { labelColor } from "./label-colors";

/**
 * One toggle chip per project label, numbered for the 1–9 keys. `pressed` chips are on;
 * `implied` ones are on because an object carries that label (saved as an image class too).
 */
export function ClassChips({
  labels,
  pressed,
  implied = [],
  onToggle,
  label,
  disabled,
}: {
  labels: readonly string[];
  pressed: readonly string[];
  implied?: readonly string[];
  onToggle(label: string): void;
  /** accessible name of the group */
  label: string;
  disabled?: boolean;
}) {
  return (
    <fieldset className="lab-chips">
      <legend className="visually-hidden">{label}</legend>
      {labels.map((l, i) => {
        const on = pressed.includes(l);
        const viaObject = !on && implied.includes(l);
        return (
          <button
            key={l}
            type="button"
            className={`lab-chip${on ? " on" : ""}${viaObject ? " implied" : ""}`}
            style={{ "--chip": labelColor(labels, l) } as CSSProperties}
            aria-pressed={on}
            title={viaObject ? `${l}: set by an object` : undefined}
            disabled={disabled}
            onClick={() => onToggle(l)}
          >
            {i < 9 ? <kbd>{i + 1}</kbd> : null}
            {l}
          </button>
        );
      })}
    </fieldset>
  );
}
