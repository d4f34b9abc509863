import type { AppRoute, NavEntry } from "../app-route";
import { useAuth } from "../auth";
import { routes } from "../routes";

export type NavItem = NavEntry & { path: string };

/** The navigation entries the signed-in user may open, in order. */
export function useNavItems(): NavItem[] {
  const { state } = useAuth();
  if (state.status !== "signed-in") return [];
  return routes
    .filter((r): r is AppRoute & { nav: NavEntry } => Boolean(r.nav))
    .filter((r) => !r.permission || state.permissions.has(r.permission))
    .map((r) => ({ ...r.nav, path: r.path }))
    .sort((a, b) => a.order - b.order);
}

/** At most this many tabs fit a 360 px wide phone with readable labels, plus "More". */
export const MAX_TABS = 4;
