import type { ParamsOf, RouteTable } from "@kensa/contracts";

/** A request matched to a route of a table: its name and its decoded path parameters. */
export type RouteMatch<T extends RouteTable> = {
  [N in keyof T & string]: { name: N; params: ParamsOf<T[N]> };
}[keyof T & string];

interface CompiledRoute {
  name: string;
  method: string;
  pattern: RegExp;
  keys: string[];
}

/**
 * Maps (method, pathname) to a route of a table. Each path becomes a regular expression once;
 * a `:param` matches one whole segment. HEAD is answered as GET, as node:http drops the body.
 */
export class RouteMatcher<T extends RouteTable> {
  readonly #routes: CompiledRoute[];

  constructor(table: T) {
    this.#routes = Object.entries(table).map(([name, spec]) => {
      const keys: string[] = [];
      const source = spec.path
        .split("/")
        .map((segment) => {
          const param = /^:([A-Za-z0-9_]+)$/.exec(segment);
          if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          keys.push(param[1] as string);
          return "([^/]+)";
        })
        .join("/");
      return { name, method: spec.method, pattern: new RegExp(`^${source}$`), keys };
    });
  }

  /**
   * The route a request names, or undefined. Parameters are percent-decoded; a parameter with a
   * malformed escape names nothing (undefined: the caller's 404), not a server error.
   */
  match(method: string, pathname: string): RouteMatch<T> | undefined {
    const wanted = method === "HEAD" ? "GET" : method;
    for (const route of this.#routes) {
      if (route.method !== wanted) continue;
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      try {
        route.keys.forEach((key, i) => {
          params[key] = decodeURIComponent(m[i + 1] as string);
        });
      } catch (err) {
        if (err instanceof URIError) return undefined;
        throw err;
      }
      return { name: route.name, params } as RouteMatch<T>;
    }
    return undefined;
  }
}
