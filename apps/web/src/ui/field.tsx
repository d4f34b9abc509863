import { type ReactElement, useId } from "react";

export interface FieldProps {
  label: string;
  /** help text under the control */
  hint?: string;
  error?: string;
  /** receives the id to put on the control, so the <label> points at it */
  children: (id: string, describedBy: string | undefined) => ReactElement;
}

/** A labelled form control: `<Field label="Name">{(id) => <input id={id} />}</Field>`. */
export function Field({ label, hint, error, children }: FieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  const describedBy = hint || error ? hintId : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id, describedBy)}
      {error ? (
        <p id={hintId} className="field-error" role="alert">
          {error}
        </p>
      ) : hint ? (
        <p id={hintId} className="field-hint">
          {hint}
        </p>
      ) : null}
    </div>
  );
}
