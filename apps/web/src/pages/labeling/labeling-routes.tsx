import { lazy } from "react";
import type { AppRoute } from "../../app-route";

// loaded on first visit: these pages carry the chart library and the editors
const LabelingQueuePage = lazy(() => import("./labeling-queue-page").then((m) => ({ default: m.LabelingQueuePage })));
const LabelingWorkspacePage = lazy(() =>
  import("./labeling-workspace-page").then((m) => ({ default: m.LabelingWorkspacePage })),
);

export const labelingRoutes: AppRoute[] = [
  {
    path: "/labeling",
    element: <LabelingQueuePage />,
    permission: "samples:read",
    nav: { label: "Labeling", icon: "label", order: 40, tab: true },
  },
  { path: "/labeling/:sampleId", element: <LabelingWorkspacePage />, permission: "samples:read" },
];
