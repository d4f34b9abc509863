import fp from "fastify-plugin";
import { consoleRoutes } from "./console-routes.js";

/**
 * The web console: its files, and index.html for every client route. Registered after every
 * feature: its catch-all GET answers only what no API route took.
 */
export const consolePlugin = fp<{ dir: string }>(async (app, opts) => consoleRoutes(app, opts), {
  name: "kensa-console",
  dependencies: [
    "kensa-http",
    "kensa-people",
    "kensa-projects",
    "kensa-fleet",
    "kensa-incidents",
    "kensa-notify",
    "kensa-datasets",
    "kensa-training",
    "kensa-registry",
    "kensa-system",
  ],
  fastify: "5.x",
});
