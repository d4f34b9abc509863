import { type AppRoute, lazyPage } from "./app-route";
import { AuditPage } from "./pages/audit/audit-page";
import { datasetRoutes } from "./pages/datasets/dataset-routes";
import { IncidentPage } from "./pages/incidents/incident-page";
import { IncidentsPage } from "./pages/incidents/incidents-page";
import { labelingRoutes } from "./pages/labeling/labeling-routes";
import { registryRoutes } from "./pages/registry/registry-routes";
import { rolloutPageRoutes } from "./pages/rollouts/rollout-routes";
import { runRoutes } from "./pages/runs/run-routes";
import { UsersPage } from "./pages/users/users-page";

// Pages with charts load on first visit: recharts is most of the bundle, and the phone user
// opening an incident from a notification should not wait for it. `lazyPage` works for any page.
const FleetPage = lazyPage(() => import("./pages/fleet/fleet-page"), "FleetPage");
const DevicePage = lazyPage(() => import("./pages/fleet/device-page"), "DevicePage");
const DeploymentsPage = lazyPage(() => import("./pages/fleet/deployments-page"), "DeploymentsPage");
const SystemPage = lazyPage(() => import("./pages/system/system-page"), "SystemPage");
const SitesPage = lazyPage(() => import("./pages/sites/sites-page"), "SitesPage");

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
  // on a central hub: the site hubs federated to it
  {
    path: "/sites",
    element: <SitesPage />,
    permission: "projects:read",
    nav: { label: "Sites", icon: "site", order: 25 },
  },
  // staged rollouts: waves gated on field signals (order 32, next to Deployments)
  ...rolloutPageRoutes,

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
    path: "/system",
    element: <SystemPage />,
    permission: "stats:read",
    nav: { label: "System", icon: "system", order: 85 },
  },
  {
    path: "/audit",
    element: <AuditPage />,
    permission: "audit:read",
    nav: { label: "Audit", icon: "audit", order: 95 },
  },
];
