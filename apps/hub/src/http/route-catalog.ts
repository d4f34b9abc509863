import type { RouteOptions } from "fastify";
import type { AuthMode, RouteAccess } from "./request-auth.js";

export interface RouteDeclaration {
  method: string;
  url: string;
  auth: AuthMode | undefined;
  permission: RouteAccess | undefined;
}

/**
 * Every route the hub registered, with what it declared about access. A route that declares
 * nothing is admin-only at run time; the permissions test fails on it so nobody forgets.
 */
export class RouteCatalog {
  #routes: RouteDeclaration[] = [];

  /** for Fastify's onRoute hook */
  add(route: RouteOptions): void {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      this.#routes.push({
        method,
        url: route.url,
        auth: route.config?.auth,
        permission: route.config?.permission,
      });
    }
  }

  list(): readonly RouteDeclaration[] {
    return this.#routes;
  }

  /** routes that neither name a permission nor are public or for devices only */
  undeclared(): RouteDeclaration[] {
    return this.#routes.filter((r) => !isDeclared(r));
  }
}

export function isDeclared(r: Pick<RouteDeclaration, "auth" | "permission">): boolean {
  return r.permission !== undefined || r.auth === "public" || r.auth === "device";
}
