import type { RouteAccess, RouteAuth } from "@kensa/contracts";
import type { RouteOptions } from "fastify";

export interface RouteDeclaration {
  method: string;
  url: string;
  auth: RouteAuth | undefined;
  permission: RouteAccess | undefined;
}

/**
 * Every route the hub registered, with what it declared about access. A route that declares
 * nothing is admin-only at run time; the permissions test fails on it so nobody forgets.
 */
export class RouteCatalog {
  // the route options themselves: a plugin's own onRoute hook (the API reference marks its
  // pages public) runs after ours and may still change their config
  #routes: RouteOptions[] = [];

  /** for Fastify's onRoute hook */
  add(route: RouteOptions): void {
    this.#routes.push(route);
  }

  list(): readonly RouteDeclaration[] {
    return this.#routes.flatMap((route) =>
      (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({
        method,
        url: route.url,
        auth: route.config?.auth,
        permission: route.config?.permission,
      })),
    );
  }

  /** routes that neither name a permission nor are public or for devices only */
  undeclared(): RouteDeclaration[] {
    return this.list().filter((r) => !isDeclared(r));
  }
}

export function isDeclared(r: Pick<RouteDeclaration, "auth" | "permission">): boolean {
  return r.permission !== undefined || r.auth === "public" || r.auth === "device";
}
