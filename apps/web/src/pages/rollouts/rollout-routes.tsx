import type { AppRoute } from "../../app-route";
import { lazyPage } from "../../app-route";

// loaded on first visit, like the other fleet pages
const RolloutsPage = lazyPage(() => import("./rollouts-page"), "RolloutsPage");
const RolloutPage = lazyPage(() => import("./rollout-page"), "RolloutPage");

export const rolloutPageRoutes: AppRoute[] = [
  {
    path: "/rollouts",
    element: <RolloutsPage />,
    permission: "deployments:read",
    // beside Deployments; not a phone tab (four fit), so it sits under "More" there
    nav: { label: "Rollouts", icon: "deploy", order: 32 },
  },
  { path: "/rollouts/:id", element: <RolloutPage />, permission: "deployments:read" },
];
