import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { API_REFERENCE_PREFIX, openApiDocument, PROTOCOL_VERSION, systemRoutes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "./route.js";

// no server URL: clients resolve paths against the address they fetched the document from
let document: Record<string, unknown> | undefined;

/**
 * The API's description, generated from the route tables: the OpenAPI document at
 * `/api/openapi.json` and a rendered reference at `/api/docs`, both public (they describe, they
 * grant nothing).
 */
export async function registerApiReference(app: FastifyInstance): Promise<void> {
  // the tables are fixed for the process: built once (≈ 10 ms), not at every hub start
  document ??= openApiDocument({ version: String(PROTOCOL_VERSION) });
  const doc = document;
  route(app, systemRoutes.openapi, async () => doc as { openapi: string });
  await app.register(async (scope) => {
    // the reference's own routes (page, assets) are public like the document they render
    scope.addHook("onRoute", (r) => {
      r.config = { ...r.config, auth: "public" };
    });
    await scope.register(swagger, { mode: "static", specification: { document: doc as never } });
    await scope.register(swaggerUi, { routePrefix: API_REFERENCE_PREFIX });
  });
}
