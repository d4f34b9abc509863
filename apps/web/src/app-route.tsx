import type { Permission } from "@kensa/contracts";
import { type ComponentType, lazy, type ReactNode } from "react";
import type { IconName } from "./ui/icon";

/**
 * The console's route table: one entry per page. The shell builds the router, the side nav
 * (desktop), the bottom tab bar (phones) and the permission checks from this list alone, so
 * adding a page is adding an entry here.
 */
export interface AppRoute {
  /** react-router path, e.g. "/datasets/:id" */
  path: string;
  element: ReactNode;
  /** the permission a user needs to open the page (e.g. "datasets:manage"); anyone signed in when omitted */
  permission?: Permission;
  /** present for pages that appear in the navigation */
  nav?: NavEntry;
}

export interface NavEntry {
  label: string;
  icon: IconName;
  /** position in the navigation, ascending; leave gaps so others can slot in */
  order: number;
  /** also shown in the phone tab bar (the first four that the user may see); the rest sit under "More" */
  tab?: boolean;
}

/** A page component loaded on first visit, from a module's named export. */
export function lazyPage<M, K extends keyof M>(load: () => Promise<M>, name: K) {
  return lazy(async () => ({ default: (await load())[name] as ComponentType }));
}
