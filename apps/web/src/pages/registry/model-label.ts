import type { ModelVersion } from "@kensa/contracts";

/** "name vN", without repeating the version when the name already ends with it (runs name models "<slug> vN"). */
export function modelLabel(m: Pick<ModelVersion, "name" | "version">): string {
  return m.name.endsWith(` v${m.version}`) ? m.name : `${m.name} v${m.version}`;
}
