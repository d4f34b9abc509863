import type { Project } from "@kensa/contracts";
import type { ReactNode } from "react";
import { useProject } from "./project";
import { Button, EmptyState, Loading } from "./ui";

/**
 * Dataset work is always about one project (its labels, its queue): renders `children` with the
 * project chosen in the top bar, or asks for one when "All projects" is selected.
 */
export function ProjectGate({ children }: { children: (project: Project) => ReactNode }) {
  const { project, projects, setProjectId, loading } = useProject();
  if (project) return children(project);
  if (loading) return <Loading label="Loading projects" />;
  if (projects.length === 0) return <EmptyState>No project yet. Create one with the CLI or the API.</EmptyState>;
  return (
    <fieldset className="card stack">
      <legend>Choose the project to work on</legend>
      <div className="row">
        {projects.map((p) => (
          <Button key={p.id} onClick={() => setProjectId(p.id)}>
            {p.name}
          </Button>
        ))}
      </div>
    </fieldset>
  );
}
