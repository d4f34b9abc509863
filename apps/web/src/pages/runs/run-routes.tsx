import { lazy } from "react";
import type { AppRoute } from "../../app-route";

// loaded on first visit: these pages carry the chart library and the editors
const RunPage = lazy(() => import("./run-page").then((m) => ({ default: m.RunPage })));
const RunsPage = lazy(() => import("./runs-page").then((m) => ({ default: m.RunsPage })));

export const runRoutes: AppRoute[] = [
  {
    path: "/runs",
    element: <RunsPage />,
    permission: "runs:read",
    nav: { label: "Runs", icon: "run", order: 60 },
  },
  { path: "/runs/:id", element: <RunPage />, permission: "runs:read" },
];
