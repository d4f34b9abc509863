import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  type AgentHealth,
  agentStatusRoutes,
  isKensaError,
  KensaError,
  type ParamsOf,
  PUSH_META_KEY_PATTERN,
  type PushedFrame,
} from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { FrameMetaValue } from "../sources/frame-source.js";
import { isPushTarget, pushedImageType } from "../sources/push-source.js";
import { AgentMetrics } from "./agent-metrics.js";
import { buildAgentStatus, InferenceStats, type StatusDeps } from "./agent-status.js";
import { DiskUsage } from "./disk-usage.js";
import { LatestFrames } from "./latest-frames.js";
import { RouteMatcher } from "./route-matcher.js";
import { statusPageHtml } from "./status-page.js";

const metaKey = new RegExp(PUSH_META_KEY_PATTERN);
const routes = new RouteMatcher(agentStatusRoutes);

type AgentStatusRoutes = typeof agentStatusRoutes;

/** One request to a route, with its decoded path parameters. */
interface Call<P> {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** a HEAD request: headers as for GET, no body */
  head: boolean;
  params: P;
}

type Handler<P> = (call: Call<P>) => void | Promise<void>;

/** A handler for every route of the table, so a declared route cannot go unserved. */
type Handlers = { [N in keyof AgentStatusRoutes]: Handler<ParamsOf<AgentStatusRoutes[N]>> };

export interface StatusServer {
  readonly server: Server;
  /** Binds; throws KENSA_ERR_AGENT_PORT_IN_USE when the port is taken. Port 0 picks a free one. */
  listen(port: number, host: string): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

/**
 * The agent's local HTTP server, serving exactly the routes of `agentStatusRoutes`: status
 * page, JSON status, clips, the latest annotated frame per source, Prometheus metrics, and the
 * push sources' intake. Built without binding; the composition root listens.
 * Plain node:http: a handful of routes do not justify carrying a web framework on every device.
 */
export function buildStatusServer(deps: StatusDeps & { logger: Logger }): StatusServer {
  const startedAt = Date.now();
  const pipelines = [...deps.pipelines.values()];
  const inference = new InferenceStats(pipelines);
  const metrics = new AgentMetrics(pipelines);
  const latest = new LatestFrames(deps.sources, pipelines);
  const disk = new DiskUsage(deps.dataDir);
  const pushRejections = new Map<string, Map<string, number>>();
  const log = deps.logger.child({ component: "status" });
  const status = () => buildAgentStatus(deps, inference, disk, startedAt);

  const sourceEntry = (id: string) => {
    const entry = deps.sources.get(id);
    if (!entry) throw new KensaError("KENSA_ERR_SOURCE_NOT_FOUND", `no source "${id}" on this agent`);
    return entry;
  };

  const handlers: Handlers = {
    page: ({ res }) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(statusPageHtml);
    },
    health: ({ res }) => sendJson(res, 200, { ok: true } satisfies AgentHealth),
    status: async ({ res }) => sendJson(res, 200, await status()),
    clips: async ({ res }) => sendJson(res, 200, { items: (await status()).clips }),
    clip: async ({ res, head, params: { file: name } }) => {
      const file = deps.clipPath?.(name);
      const body = file ? await readFile(file).catch(() => undefined) : undefined;
      if (!body) throw new KensaError("KENSA_ERR_CLIP_NOT_FOUND", `no clip "${name}" on this agent`);
      const type = name.endsWith(".mp4") ? "video/mp4" : "video/x-msvideo";
      res.writeHead(200, { "content-type": type, "content-length": body.length, "cache-control": "no-store" });
      res.end(head ? undefined : body);
    },
    latestFrame: async ({ res, head, params: { id } }) => {
      sourceEntry(id);
      const jpeg = await latest.jpeg(id);
      if (!jpeg) throw new KensaError("KENSA_ERR_NOT_FOUND", `source "${id}" has no frame yet`);
      res.writeHead(200, { "content-type": "image/jpeg", "content-length": jpeg.length, "cache-control": "no-store" });
      res.end(head ? undefined : jpeg);
    },
    pushFrame: async ({ req, res, url, params: { id } }) => {
      const entry = sourceEntry(id);
      if (!isPushTarget(entry.source)) {
        throw new KensaError(
          "KENSA_ERR_SOURCE_NOT_FOUND",
          `source "${id}" is a ${entry.source.type} source; only push sources accept frames`,
        );
      }
      const target = entry.source;
      try {
        const declared = req.headers["content-type"];
        // refuse before reading a body we will not use
        pushedImageType(declared);
        const meta = queryMeta(url.searchParams);
        const body = await readBody(req, target.maxBytes);
        const frameId = target.push(body, declared, meta);
        return sendJson(res, 202, { frameId, sourceId: id, pipeline: entry.pipelineId } satisfies PushedFrame);
      } catch (err) {
        if (isKensaError(err)) {
          const codes = pushRejections.get(id) ?? new Map<string, number>();
          codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
          pushRejections.set(id, codes);
        }
        throw err;
      }
    },
    metrics: async ({ res }) => {
      const text = await metrics.render(await status(), pushRejections);
      res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
      res.end(text);
    },
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://agent");
    const method = req.method ?? "GET";
    const match = routes.match(method, url.pathname);
    if (!match) throw notFound(method, url.pathname);
    const handle = handlers[match.name] as Handler<typeof match.params>;
    await handle({ req, res, url, head: method === "HEAD", params: match.params });
  };

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const e = isKensaError(err) ? err : new KensaError("KENSA_ERR_INTERNAL", (err as Error)?.message ?? String(err));
      if (e.status >= 500 && e.code === "KENSA_ERR_INTERNAL")
        log.error("status request failed", { path: req.url, err });
      if (res.headersSent) return void res.destroy();
      const headers: Record<string, string> = {};
      if (e.code === "KENSA_ERR_PIPELINE_SATURATED") headers["retry-after"] = "1";
      if (e.code === "KENSA_ERR_PIPELINE_NOT_READY") headers["retry-after"] = "5";
      // an unread or oversized body is not worth draining; close the connection instead
      if (!req.complete) headers.connection = "close";
      sendJson(res, e.status, { error: { code: e.code, message: e.message } }, headers);
    });
  });
  // a camera that connects and never sends must not hold a socket forever
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => {
          reject(
            err.code === "EADDRINUSE" || err.code === "EACCES"
              ? new KensaError(
                  "KENSA_ERR_AGENT_PORT_IN_USE",
                  `the agent's status port ${host}:${port} is not available (${err.code}); set status.port (0 picks a free one) or status.enabled false`,
                )
              : err,
          );
        };
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          const bound = (server.address() as { port: number }).port;
          const shownHost = host.includes(":") ? `[${host}]` : host;
          resolve({ port: bound, url: `http://${shownHost}:${bound}` });
        });
      }),
    close: async () => {
      inference.close();
      metrics.close();
      latest.close();
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function notFound(method: string, path: string): KensaError {
  return new KensaError("KENSA_ERR_NOT_FOUND", `no route ${method} ${path}`);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/** Query parameters become frame meta (`?part=SN123&station=4`), so an event names the part it judged. */
function queryMeta(params: URLSearchParams): Record<string, FrameMetaValue> {
  const meta: Record<string, FrameMetaValue> = {};
  let n = 0;
  for (const [k, v] of params) {
    if (++n > 16 || !metaKey.test(k) || v.length > 256) {
      throw new KensaError(
        "KENSA_ERR_VALIDATION",
        "query parameters become frame meta: at most 16, names like part_id, values up to 256 characters",
      );
    }
    meta[k] = v;
  }
  return meta;
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  const tooLarge = () =>
    new KensaError("KENSA_ERR_UPLOAD_TOO_LARGE", `the image is larger than this source's maxBytes (${maxBytes})`);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners("data");
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}
