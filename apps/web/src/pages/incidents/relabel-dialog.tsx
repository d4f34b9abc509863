import { useState } from "react";
import { Button, Dialog, Field } from "../../ui";

export interface RelabelDialogProps {
  open: boolean;
  /** the project's label schema */
  labels: readonly string[];
  /** what the model said, preselected out */
  current: string;
  onClose(): void;
  onSubmit(labels: string[], note: string): void;
}

/** Picks the corrected label(s) from the project's labels: big checkboxes, one tap each. */
export function RelabelDialog({ open, labels, current, onClose, onSubmit }: RelabelDialogProps) {
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  const [note, setNote] = useState("");
  const toggle = (l: string) =>
    setChosen((c) => {
      const n = new Set(c);
      if (n.has(l)) n.delete(l);
      else n.add(l);
      return n;
    });
  const close = () => {
    setChosen(new Set());
    setNote("");
    onClose();
  };
  return (
    <Dialog
      open={open}
      title="Relabel"
      onClose={close}
      actions={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button
            variant="primary"
            disabled={chosen.size === 0}
            onClick={() => {
              onSubmit([...chosen], note.trim());
              close();
            }}
          >
            Save labels
          </Button>
        </>
      }
    >
      <fieldset className="label-choices">
        <legend>
          The model said <strong>{current}</strong>. What does the frame show?
        </legend>
        {labels.map((l) => (
          <label key={l} className={chosen.has(l) ? "label-choice on" : "label-choice"}>
            <input type="checkbox" checked={chosen.has(l)} onChange={() => toggle(l)} />
            {l}
          </label>
        ))}
      </fieldset>
      <Field label="Note (optional)">
        {(id) => <textarea id={id} rows={2} maxLength={2000} value={note} onChange={(e) => setNote(e.target.value)} />}
      </Field>
    </Dialog>
  );
}
