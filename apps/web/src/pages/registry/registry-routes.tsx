import { lazy } from "react";
import type { AppRoute } from "../../app-route";

// loaded on first visit: these pages carry the chart library and the editors
const ModelPage = lazy(() => import("./model-page").then((m) => ({ default: m.ModelPage })));
const RegistryPage = lazy(() => import("./registry-page").then((m) => ({ default: m.RegistryPage })));

export const registryRoutes: AppRoute[] = [
  {
    path: "/registry",
    element: <RegistryPage />,
    permission: "models:read",
    nav: { label: "Registry", icon: "registry", order: 70 },
  },
  { path: "/registry/:id", element: <ModelPage />, permission: "models:read" },
];
