import Fastify, { type FastifyInstance, LogController } from "fastify";
import type { HubConfig } from "../config.js";
import { countBodyRefusal } from "../limits/http-limits.js";
import { chooseLogFormat, prettyLogStream } from "../logger.js";
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
  const envFormat =
    env.KENSA_LOG_FORMAT === "json" || env.KENSA_LOG_FORMAT === "pretty" ? env.KENSA_LOG_FORMAT : undefined;
  const app = Fastify({
    logger: {
      level: config.logLevel ?? envLevel ?? "info",
      redact: ["req.headers.authorization", "req.headers.cookie"],
      ...(chooseLogFormat(config.logFormat ?? envFormat) === "pretty" ? { stream: prettyLogStream() } : {}),
    },
    logController: new RequestLogController(),
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
 * Request lines at debug (at info they were 40 % of a hub's log and hid what matters); a request
 * that failed on the server stays an error. One line a request: "request completed" carries the
 * method, URL, status and time.
 */
class RequestLogController extends LogController {
  override incomingRequest(request: Parameters<LogController["incomingRequest"]>[0]): void {
    if (!this.isLogDisabled(request)) request.log.trace({ req: request }, "incoming request");
  }

  override requestCompleted(...[error, request, reply]: Parameters<LogController["requestCompleted"]>): void {
    if (this.isLogDisabled(request)) return;
    if (error)
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, "request errored");
    else reply.log.debug({ req: request, res: reply, responseTime: reply.elapsedTime }, "request completed");
  }

  override defaultErrorLog(...[error, request, reply]: Parameters<LogController["defaultErrorLog"]>): void {
    if (this.isLogDisabled(request)) return;
    // a refused request (4xx) is the client's business: debug; a server error stays an error
    if (reply.statusCode >= 500) reply.log.error({ req: request, res: reply, err: error }, error?.message);
    else reply.log.debug({ res: reply, err: error }, error?.message);
  }

  override routeNotFound(...[request]: Parameters<LogController["routeNotFound"]>): void {
    if (!this.isLogDisabled(request)) request.log.debug(`Route ${request.raw.method}:${request.raw.url} not found`);
  }
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
