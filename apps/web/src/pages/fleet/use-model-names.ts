import { type ModelVersion, registryRoutes } from "@kensa/contracts";
import { useMemo } from "react";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { modelLabel } from "../registry/model-label";
import type { ModelNames } from "./device-status";

/** Model versions of the project (all when null) and their display names by id, when the user may read models. */
export function useModels(projectId: string | undefined) {
  const canRead = useCan("models:read");
  const q = useQuery(registryRoutes.list, { query: { projectId } }, { enabled: canRead });
  const names = useMemo<ModelNames>(() => new Map((q.data?.items ?? []).map((m) => [m.id, modelName(m)])), [q.data]);
  return { models: q.data?.items ?? [], names, reload: q.reload };
}

/** "name vN", the version once (see modelLabel). */
export function modelName(m: ModelVersion): string {
  return modelLabel(m);
}
