import type { Permission } from "@kensa/contracts";
import { type ComponentType, lazy, type ReactNode } from "react";
import { AuditPage } from "./pages/audit/audit-page";
import { datasetRoutes } from "./pages/datasets/dataset-routes";
import { IncidentPage } from "./pages/incidents/incident-page";
import { IncidentsPage } from "./pages/incidents/incidents-page";
import { labelingRoutes } from "./pages/labeling/labeling-routes";
import { registryRoutes } from "./pages/registry/registry-routes";
import { runRoutes } from "./pages/runs/run-routes";
import { UsersPage } from "./pages/users/users-page";
import type { IconName } from "./ui/icon";

// Pages with charts load on first visit: recharts is most of the bundle, and the phone user
// opening an incident from a notification should not wait for it. `lazyPage` works for any page.
const FleetPage = lazyPage(() => import("./pages/fleet/fleet-page"), "FleetPage");
const DevicePage = lazyPage(() => import("./pages/fleet/device-page"), "DevicePage");
const DeploymentsPage = lazyPage(() => import("./pages/fleet/deployments-page"), "DeploymentsPage");

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

export const routes: AppRoute[] = [
  // ---- operations: incidents, fleet, deployments ----------------------------------------
  {
    path: "/incidents",
    element: <IncidentsPage />,
    permission: "incidents:read",
    nav: { label: "Incidents", icon: "incidents", order: 10, tab: true },
  },
  { path: "/incidents/:id", element: <IncidentPage />, permission: "incidents:read" },
  {
    path: "/fleet",
    element: <FleetPage />,
    permission: "devices:read",
    nav: { label: "Fleet", icon: "fleet", order: 20, tab: true },
  },
  { path: "/fleet/:id", element: <DevicePage />, permission: "devices:read" },
  {
    path: "/deployments",
    element: <DeploymentsPage />,
    permission: "deployments:read",
    nav: { label: "Deployments", icon: "deploy", order: 30, tab: true },
  },

  // ---- machine learning: labeling, datasets, runs, registry (order 40–79) ----------------
  // Pages live in src/pages/{labeling,datasets,runs,registry}/; add their entries here.
  ...labelingRoutes,
  ...datasetRoutes,
  ...runRoutes,
  ...registryRoutes,

  // ---- administration --------------------------------------------------------------------
  {
    path: "/users",
    element: <UsersPage />,
    permission: "users:manage",
    nav: { label: "Users", icon: "users", order: 90 },
  },
  {
    path: "/audit",
    element: <AuditPage />,
    permission: "audit:read",
    nav: { label: "Audit", icon: "audit", order: 95 },
  },
];

/** A page component loaded on first visit, from a module's named export. */
export function lazyPage<M, K extends keyof M>(load: () => Promise<M>, name: K) {
  return lazy(async () => ({ default: (await load())[name] as ComponentType }));
}
