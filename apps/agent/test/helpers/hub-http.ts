import { createServer, type IncomingMessage, type Server } from "node:http";
import type { BundleManifest, BundleRef, ModelManifest } from "@kensa/contracts";
import { canonicalJson, sha256Hex } from "@kensa/contracts";
import { buildBlemishModel } from "@kensa/vision/graph";

export interface MediaUpload {
  eventId: string;
  contentType: string | undefined;
  authorized: boolean;
  bytes: Buffer;
}

/** A `PUT /api/v1/captures/:id` the device made. */
export interface CaptureUpload {
  id: string;
  query: Record<string, string>;
  contentType: string | undefined;
  authorized: boolean;
  bytes: Buffer;
  /** 201 for a new capture id, 200 for a repeat (the hub's idempotency) */
  status: number;
}

export interface ClipUpload extends MediaUpload {
  query: Record<string, string>;
}

export interface TestBundle {
  ref: BundleRef;
  manifest: BundleManifest;
  manifestBytes: Buffer;
  modelBytes: Uint8Array;
}

export interface TestHub {
  readonly url: string;
  readonly uploads: MediaUpload[];
  /** incident clip PUTs, with their query (durationMs, frames) */
  readonly clips: ClipUpload[];
  /** capture PUTs, repeats and refused ones included */
  readonly captures: CaptureUpload[];
  /** answer the next `n` media and capture PUTs with 503 (a hub restarting, a proxy in trouble) */
  failNext(n: number): void;
  /** GET requests by path, with whether they carried the right credentials */
  readonly downloads: Array<{ path: string; authorized: boolean }>;
  /**
   * Serves a bundle of the blemish model. With `serveModel`, the model URL answers with
   * those bytes instead of the real ones (a tampered or corrupted transfer).
   */
  addBundle(
    modelVersionId: string,
    opts?: { serveModel?: Uint8Array; model?: { onnx: Uint8Array; manifest: ModelManifest } },
  ): TestBundle;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

/**
 * A real HTTP server standing in for the hub's device-facing routes: bundle manifests and
 * models (GET), finding media (PUT /api/v1/events/:id/media). Checks Basic auth.
 */
export async function startHubHttp(deviceId: string, secret: string): Promise<TestHub> {
  const expected = `Basic ${Buffer.from(`${deviceId}:${secret}`).toString("base64")}`;
  const files = new Map<string, Uint8Array>();
  const uploads: MediaUpload[] = [];
  const captures: CaptureUpload[] = [];
  const clips: ClipUpload[] = [];
  let failing = 0;
  const downloads: Array<{ path: string; authorized: boolean }> = [];
  const blemish = buildBlemishModel();
  let port = 0;
  let server: Server | undefined;

  const handler = async (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const authorized = req.headers.authorization === expected;
    const body = await readBody(req);
    if (req.method === "GET") {
      downloads.push({ path, authorized });
      const bytes = files.get(path);
      if (!authorized) return void res.writeHead(401).end();
      if (!bytes) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.byteLength });
      return void res.end(bytes);
    }
    if (req.method === "PUT" && failing > 0) {
      failing--;
      return void res.writeHead(503).end();
    }
    const c = /^\/api\/v1\/captures\/([^/]+)$/.exec(path);
    if (req.method === "PUT" && c?.[1]) {
      const id = decodeURIComponent(c[1]);
      const status = !authorized ? 401 : captures.some((x) => x.id === id && x.status < 300) ? 200 : 201;
      const query = Object.fromEntries(new URL(req.url ?? "/", "http://x").searchParams);
      captures.push({ id, query, contentType: req.headers["content-type"], authorized, bytes: body, status });
      return void res.writeHead(status, { "content-type": "application/json" }).end("{}");
    }
    const m = /^\/api\/v1\/events\/([^/]+)\/(media|clip)$/.exec(path);
    if (req.method === "PUT" && m?.[1]) {
      const upload = { eventId: m[1], contentType: req.headers["content-type"], authorized, bytes: body };
      if (m[2] === "media") uploads.push(upload);
      else clips.push({ ...upload, query: Object.fromEntries(new URL(req.url ?? "/", "http://x").searchParams) });
      return void res.writeHead(authorized ? 201 : 401).end();
    }
    res.writeHead(404).end();
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((req, res) => {
        handler(req, res).catch(() => res.writeHead(500).end());
      });
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  await listen();

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    uploads,
    captures,
    clips,
    failNext: (n) => {
      failing = n;
    },
    downloads,
    addBundle(modelVersionId, opts = {}) {
      const model = opts.model ?? blemish;
      const modelSha256 = sha256Hex(model.onnx);
      const manifest: BundleManifest = {
        schema: "kensa.bundle/v1",
        name: `test bundle ${modelVersionId}`,
        createdAt: new Date().toISOString(),
        projectId: "p1",
        modelVersionId,
        model: { sha256: modelSha256, size: model.onnx.byteLength, format: "onnx" },
        manifest: model.manifest,
      };
      const manifestBytes = Buffer.from(canonicalJson(manifest));
      const sha256 = sha256Hex(manifestBytes);
      files.set(`/bundles/${sha256}/manifest.json`, manifestBytes);
      files.set(`/bundles/${sha256}/model.onnx`, opts.serveModel ?? model.onnx);
      const base = `http://127.0.0.1:${port}`;
      return {
        ref: {
          sha256,
          modelVersionId,
          url: `${base}/bundles/${sha256}/manifest.json`,
          modelUrl: `${base}/bundles/${sha256}/model.onnx`,
          modelSha256,
          size: model.onnx.byteLength,
        },
        manifest,
        manifestBytes,
        modelBytes: model.onnx,
      };
    },
    stop: async () => {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    restart: listen,
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
