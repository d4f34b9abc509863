import { lazy } from "react";
import type { AppRoute } from "../../app-route";

// loaded on first visit: these pages carry the chart library and the editors
const DatasetPage = lazy(() => import("./dataset-page").then((m) => ({ default: m.DatasetPage })));
const SnapshotsPage = lazy(() => import("./snapshots-page").then((m) => ({ default: m.SnapshotsPage })));

export const datasetRoutes: AppRoute[] = [
  {
    path: "/datasets",
    element: <DatasetPage />,
    permission: "datasets:read",
    nav: { label: "Datasets", icon: "dataset", order: 50 },
  },
  { path: "/datasets/snapshots", element: <SnapshotsPage />, permission: "datasets:read" },
];
