import multipart from "@fastify/multipart";
import fp from "fastify-plugin";
import { registerApiReference } from "./api-reference.js";
import { registerErrorHandler } from "./error-handler.js";
import { type AuthDeps, registerAuth } from "./request-auth.js";

export interface HttpPluginOptions extends AuthDeps {
  /** bytes of the one file a multipart upload (a model) may carry */
  multipartFileBytes: number;
}

/**
 * What every feature's routes stand on: the error replies, authentication and permissions of
 * every request, multipart parsing, and the API's own description.
 */
export const httpPlugin = fp<HttpPluginOptions>(
  async (app, opts) => {
    const { multipartFileBytes, ...auth } = opts;
    registerErrorHandler(app);
    registerAuth(app, auth);
    await app.register(multipart, {
      limits: { fileSize: multipartFileBytes, files: 1, fields: 10, fieldSize: 1024 * 1024, parts: 12 },
    });
    await registerApiReference(app);
  },
  { name: "kensa-http", fastify: "5.x" },
);
