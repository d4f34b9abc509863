import type { Project } from "@kensa/contracts";
import { ClassChips } from "./class-chips";
import { type Draft, effectiveClasses } from "./label-draft";

const ANOMALY_CHOICES = [
  [true, "yes"],
  [false, "no"],
  [null, "not set"],
] as const;

/** The image-level part of a label (classes, anomaly) and the class new objects are drawn as. */
export function ClassesPanel(p: {
  project: Project;
  draft: Draft;
  newLabel: string;
  readOnly: boolean;
  /** whether objects can be drawn at all (not for classification) */
  drawing: boolean;
  onToggleClass(label: string): void;
  onAnomaly(value: boolean | null): void;
  onDrawAs(label: string): void;
}) {
  const { project, draft } = p;
  return (
    <section className="card" aria-labelledby="lab-classes">
      <h2 id="lab-classes">Image classes</h2>
      <ClassChips
        label="Image classes"
        labels={project.labels}
        pressed={draft.classes}
        implied={effectiveClasses(draft, project.task)}
        disabled={p.readOnly}
        onToggle={p.onToggleClass}
      />
      {project.task === "classification" && draft.classes.length !== 1 ? (
        <p className="lab-warn" role="note">
          Classification trains on exactly one class per image; this label has {draft.classes.length}.
        </p>
      ) : null}
      {project.task === "anomaly" ? (
        <fieldset className="lab-anomaly" disabled={p.readOnly}>
          <legend>Anomalous?</legend>
          {ANOMALY_CHOICES.map(([v, name]) => (
            <label key={name} className="check">
              <input type="radio" name="anomaly" checked={draft.anomaly === v} onChange={() => p.onAnomaly(v)} />
              {name}
            </label>
          ))}
        </fieldset>
      ) : null}
      {p.drawing ? (
        <>
          <h2 id="lab-draw-as">Draw new objects as</h2>
          <ClassChips
            label="Class of new objects"
            labels={project.labels}
            pressed={[p.newLabel]}
            onToggle={p.onDrawAs}
            disabled={p.readOnly}
          />
        </>
      ) : null}
    </section>
  );
}
