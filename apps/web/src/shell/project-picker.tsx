import { useId } from "react";
import { useProject } from "../project";

/** Chooses the project every list is filtered by; "All projects" shows everything. */
export function ProjectPicker() {
  const { projects, project, setProjectId } = useProject();
  const id = useId();
  return (
    <div className="project-picker">
      <label htmlFor={id} className="visually-hidden">
        Project
      </label>
      <select id={id} value={project?.id ?? ""} onChange={(e) => setProjectId(e.target.value || null)}>
        {projects.length === 1 ? null : <option value="">All projects</option>}
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
    </div>
  );
}
