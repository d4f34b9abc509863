import { Type } from "@sinclair/typebox";
import { defineRoutes } from "../route.js";

/** The API's own description. */
export const apiDocRoutes = defineRoutes({
  openapi: {
    method: "GET",
    path: "/api/openapi.json",
    summary: "This API as an OpenAPI 3.1 document (the rendered reference is at /api/docs)",
    auth: "public",
    reply: Type.Object({ openapi: Type.String() }, { additionalProperties: true }),
  },
});

/** Where the hub serves the rendered API reference. */
export const API_REFERENCE_PREFIX = "/api/docs";
