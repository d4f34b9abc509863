import { type Project, projectRoutes } from "@kensa/contracts";
import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from "react";
import { useQuery } from "./api/use-query";
import { useCan } from "./auth";

interface ProjectContextValue {
  projects: readonly Project[];
  /** the chosen project, or null for "all projects" */
  project: Project | null;
  setProjectId(id: string | null): void;
  loading: boolean;
}

const ProjectContext = createContext<ProjectContextValue | null>(null);
const STORAGE_KEY = "kensa.projectId";

/**
 * The project picker's state, remembered per browser (localStorage) so a site engineer lands on
 * their line; the only project is chosen when there is just one.
 */
export function ProjectProvider({ children }: { children: ReactNode }) {
  const canRead = useCan("projects:read");
  const q = useQuery(projectRoutes.list, undefined, { enabled: canRead });
  const [projectId, setId] = useState<string | null>(() => localStorage.getItem(STORAGE_KEY));
  const setProjectId = useCallback((id: string | null) => {
    if (id) localStorage.setItem(STORAGE_KEY, id);
    else localStorage.removeItem(STORAGE_KEY);
    setId(id);
  }, []);
  const value = useMemo<ProjectContextValue>(() => {
    const projects = q.data?.items ?? [];
    return {
      projects,
      // with a single project there is nothing to choose: "all projects" is that one
      project: projects.find((p) => p.id === projectId) ?? (projects.length === 1 ? projects[0]! : null),
      setProjectId,
      loading: q.loading,
    };
  }, [q.data, q.loading, projectId, setProjectId]);
  return <ProjectContext.Provider value={value}>{children}</ProjectContext.Provider>;
}

export function useProject(): ProjectContextValue {
  const ctx = useContext(ProjectContext);
  if (!ctx) throw new Error("useProject must be used inside <ProjectProvider>");
  return ctx;
}
