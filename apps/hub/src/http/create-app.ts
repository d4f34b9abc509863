import Fastify, { type FastifyInstance } from "fastify";
import type { HubConfig } from "../config.js";
import { countBodyRefusal } from "../limits/http-limits.js";
import type { TlsMaterial } from "./tls.js";

const LOG_LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export interface HubApp {
  app: FastifyInstance;
  /** requests not yet answered in full, so a shutdown that waits on HTTP can say which */
  inFlight(): string[];
}

/** The hub's Fastify instance: logging, strict validation, and a record of requests in flight. */
export function createApp(
  config: HubConfig,
  env: Record<string, string | undefined>,
  /** serve HTTPS with these certificates */
  https: TlsMaterial | null = null,
): HubApp {
  const envLevel = env.KENSA_LOG_LEVEL && LOG_LEVELS.has(env.KENSA_LOG_LEVEL) ? env.KENSA_LOG_LEVEL : undefined;
  const app = Fastify({
    logger: {
      level: config.logLevel ?? envLevel ?? "info",
      redact: ["req.headers.authorization", "req.headers.cookie"],
    },
    // Unknown keys are errors, not silently dropped (Fastify's default removes them).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true, allErrors: false } },
    // routes that take uploads declare their own (limits.mediaBytes, clipBytes, modelBytes)
    bodyLimit: config.limits.jsonBodyBytes,
    ...(https ? { https: { cert: https.cert, key: https.key, minVersion: "TLSv1.2" as const } } : {}),
  }) as FastifyInstance;
  app.addHook("onError", (_req, _reply, err, done) => {
    countBodyRefusal(err);
    done();
  });
  const inFlight = new Set<{ method: string; url: string }>();
  app.addHook("onRequest", (req, reply, done) => {
    const entry = { method: req.method, url: req.url };
    inFlight.add(entry);
    reply.raw.once("close", () => inFlight.delete(entry));
    done();
  });
  return { app, inFlight: () => [...inFlight].map((r) => `${r.method} ${r.url}`) };
}

/**
 * Closes the HTTP server and waits for the requests in progress (downloads included). Node
 * closes idle keep-alive connections once, when close() starts; a connection busy then (a
 * request still arriving, a download still flushing) goes idle later and would hold close() for
 * Fastify's keep-alive timeout (72 s): from now on a connection closes as soon as its response
 * is out (Node adds its 1 s margin).
 */
export async function closeApp(app: FastifyInstance): Promise<void> {
  app.server.keepAliveTimeout = 1;
  await app.close();
}
