import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { AgentStatus, agentStatusRoutes, parseWith, type RouteSpec, routePath } from "@kensa/contracts";
import { tempDir, waitFor } from "@kensa/testkit";
import { Value } from "@sinclair/typebox/value";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../src/agent.js";
import { loadAgentConfig, PushSourceConfig, SyntheticSourceConfig } from "../src/config.js";
import { Logger } from "../src/logger.js";
import { SourceSet } from "../src/sources/source-set.js";
import { buildStatusServer, type StatusServer } from "../src/status/status-server.js";
import { renderJpegs } from "./helpers/frames.js";
import { openPipelines, type TestPipelines } from "./helpers/pipeline.js";

const quiet = new Logger("error", {}, () => undefined);

interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format; throws on a line that is neither a comment nor a sample. */
function parseExposition(text: string): { samples: MetricSample[]; types: Map<string, string> } {
  const samples: MetricSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = l[2] as string;
    }
    samples.push({ name: m[1] as string, labels, value: m[3] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[3]) });
  }
  return { samples, types };
}

const value = (samples: MetricSample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe("status server: push endpoint, status API, annotated frames, /metrics (real HTTP, real model)", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let p: TestPipelines;
  let sources: SourceSet;
  let status: StatusServer;
  let base: string;
  let big: Buffer;
  // a name that needs encoding in its URL
  const clip = {
    file: "evt 1.mp4",
    eventId: "evt-1",
    sourceId: "line",
    bytes: 16,
    frames: 5,
    durationMs: 1000,
    createdAt: new Date().toISOString(),
    upload: "pending" as const,
  };

  const push = (id: string, body: Uint8Array | string, type?: string, query = "") =>
    fetch(`${base}${routePath(agentStatusRoutes.pushFrame.path, { id })}${query}`, {
      method: "POST",
      body: body as BodyInit,
      headers: type ? { "content-type": type } : {},
    });

  beforeAll(async () => {
    dir = await tempDir();
    // a queue of one makes saturation reachable with a burst
    p = openPipelines(join(dir.path, "agent"), ["default", "empty"], 1);
    await p.pipelines.get("default")?.swap(await p.loadModel());
    const cfg = <T extends Parameters<typeof parseWith>[0]>(schema: T, v: object) =>
      parseWith(schema, v, "KENSA_ERR_CONFIG_INVALID");
    sources = new SourceSet({
      configs: [
        cfg(PushSourceConfig, { id: "line", type: "push" }),
        cfg(PushSourceConfig, { id: "small", type: "push", maxBytes: 1024 }),
        cfg(PushSourceConfig, { id: "idle", type: "push", pipeline: "empty" }),
        cfg(SyntheticSourceConfig, {
          id: "sim",
          type: "synthetic",
          fps: 20,
          width: 64,
          height: 48,
          pipeline: "empty",
          sample: { maxFps: 4 },
        }),
      ],
      defaultPipeline: "default",
      sinks: p.pipelines,
      context: { ffmpegPath: "ffmpeg" },
      logger: quiet,
    });
    status = buildStatusServer({
      deviceId: "cam-1",
      agentVersion: "9.9.9",
      dataDir: join(dir.path, "agent"),
      pipelines: p.pipelines,
      sources,
      outboxDepth: () => p.outbox.depth(),
      mediaQueueDepth: () => 0,
      connected: () => false,
      reportedPipelines: () => [],
      clips: () => [clip],
      clipPath: (file) => (file === clip.file ? join(dir.path, clip.file) : undefined),
      logger: quiet,
    });
    await writeFile(join(dir.path, clip.file), Buffer.alloc(clip.bytes, 1));
    base = (await status.listen(0, "127.0.0.1")).url;
    sources.start();
    big = (await renderJpegs(1, 1280, 960))[0] as Buffer;
  });
  afterAll(async () => {
    await status?.close();
    await sources?.stop();
    await p?.close();
    await dir?.remove();
  });

  it("accepts a pushed JPEG with 202 and its frame id, which the event carries with the query's meta", async () => {
    const res = await push("line", big, "image/jpeg", "?part=SN-0042&station=4");
    expect(res.status).toBe(202);
    const body = (await res.json()) as { frameId: string; sourceId: string; pipeline: string };
    expect(body).toMatchObject({ sourceId: "line", pipeline: "default" });
    expect(body.frameId).toMatch(/^[0-9a-f-]{36}$/);
    const event = await waitFor("the event", () => p.events().find((e) => e.frame.meta.frameId === body.frameId));
    expect(event).toMatchObject({
      sourceId: "line",
      pipeline: "default",
      frame: { meta: { part: "SN-0042", station: "4" } },
    });
  });

  it("refuses what is not a JPEG/PNG (415, 422), too large (413), unknown sources (404), and no model (503)", async () => {
    const [small] = await renderJpegs(1);
    const png = await sharp(small as Buffer)
      .png()
      .toBuffer();
    const cases: Array<[Promise<Response>, number, string]> = [
      [push("line", "hello", "text/plain"), 415, "KENSA_ERR_MEDIA_UNSUPPORTED_TYPE"],
      [push("line", small as Buffer), 415, "KENSA_ERR_MEDIA_UNSUPPORTED_TYPE"],
      [push("line", "hello, not a jpeg", "image/jpeg"), 422, "KENSA_ERR_MEDIA_INVALID"],
      [push("line", (small as Buffer).subarray(0, 300), "image/jpeg"), 422, "KENSA_ERR_MEDIA_INVALID"],
      [push("line", png, "image/jpeg"), 422, "KENSA_ERR_MEDIA_INVALID"],
      [push("small", big, "image/jpeg"), 413, "KENSA_ERR_UPLOAD_TOO_LARGE"],
      [push("nope", small as Buffer, "image/jpeg"), 404, "KENSA_ERR_SOURCE_NOT_FOUND"],
      [push("sim", small as Buffer, "image/jpeg"), 404, "KENSA_ERR_SOURCE_NOT_FOUND"],
      [push("idle", small as Buffer, "image/jpeg"), 503, "KENSA_ERR_PIPELINE_NOT_READY"],
    ];
    for (const [req, code, error] of cases) {
      const res = await req;
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect([res.status, body.error.code], body.error.message).toEqual([code, error]);
    }
    expect((await push("line", png, "image/png")).status).toBe(202);
  });

  it("answers 429 with Retry-After while the pipeline's queue is full, and loses none it accepted", async () => {
    await p.pipelines.get("default")?.idle();
    const responses = await Promise.all(Array.from({ length: 30 }, () => push("line", big, "image/jpeg")));
    const accepted: string[] = [];
    let saturated = 0;
    for (const res of responses) {
      if (res.status === 202) accepted.push(((await res.json()) as { frameId: string }).frameId);
      else {
        expect(res.status).toBe(429);
        expect(res.headers.get("retry-after")).toBe("1");
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("KENSA_ERR_PIPELINE_SATURATED");
        saturated++;
      }
    }
    expect(accepted.length).toBeGreaterThanOrEqual(2);
    expect(saturated).toBeGreaterThan(0);
    await waitFor("every accepted frame stored", () => {
      const ids = new Set(p.events().map((e) => e.frame.meta.frameId));
      return accepted.every((id) => ids.has(id));
    });
    expect(p.pipelines.get("default")?.stats().framesDropped).toBe(0);
  });

  it("serves the status document, valid against its schema", async () => {
    const res = await fetch(`${base}${agentStatusRoutes.status.path}`);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const s = (await res.json()) as AgentStatus;
    expect([...Value.Errors(AgentStatus, s)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    expect(s.pipelines.map((x) => x.id)).toEqual(["default", "empty"]);
    const def = s.pipelines[0];
    expect(def?.bundle).toEqual({ sha256: "b".repeat(64), modelVersionId: "mv-1" });
    expect(def?.status).toBe("loaded");
    expect(def?.latencyMs.p50).toBeGreaterThan(0);
    expect(def?.latencyMs.p99).toBeGreaterThanOrEqual(def?.latencyMs.p50 ?? 0);
    expect(def?.framesInferred).toBeGreaterThan(2);
    expect(s.sources.map((x) => [x.id, x.type, x.pipeline, x.status])).toEqual([
      ["line", "push", "default", "running"],
      ["small", "push", "default", "running"],
      ["idle", "push", "empty", "running"],
      ["sim", "synthetic", "empty", "running"],
    ]);
    const sim = s.sources[3];
    // 20 fps asked; a loaded 2-core machine renders fewer, which is fine here
    expect(sim?.fps).toBeGreaterThan(5);
    expect(sim?.framesSampledOut).toBeGreaterThan(0);
    expect(s.queues.outbox).toBe(p.outbox.depth());
    expect(s.disk.dataDirBytes).toBeGreaterThan(0);
    expect(s.disk.freeBytes).toBeGreaterThan(0);
  });

  it("serves the latest frame per source as a JPEG with the result drawn on it", async () => {
    const res = await fetch(`${base}${routePath(agentStatusRoutes.latestFrame.path, { id: "line" })}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    const annotated = Buffer.from(await res.arrayBuffer());
    const { data, info } = await sharp(annotated).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([1280, 960]);
    // the caption box top left is drawn in the verdict colour (red or green), not the frame's
    const [r, g, b] = [data[0] as number, data[1] as number, data[2] as number];
    const red = r > 180 && g < 110 && b < 110;
    const green = g > 120 && r < 100 && b < 140;
    expect(red || green, `rgb(${r},${g},${b})`).toBe(true);

    const sim = await fetch(`${base}${routePath(agentStatusRoutes.latestFrame.path, { id: "sim" })}`);
    expect(sim.status).toBe(200);
    expect((await sharp(Buffer.from(await sim.arrayBuffer())).metadata()).width).toBe(64);
    const none = await fetch(`${base}${routePath(agentStatusRoutes.latestFrame.path, { id: "idle" })}`);
    expect(none.status).toBe(404);
  });

  it("exposes Prometheus metrics whose counters move", async () => {
    const scrape = async () => {
      const res = await fetch(`${base}${agentStatusRoutes.metrics.path}`);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      return parseExposition(await res.text());
    };
    const first = await scrape();
    await new Promise((r) => setTimeout(r, 300));
    const second = await scrape();
    const simFrames = (m: MetricSample[]) => value(m, "kensa_source_frames_total", { source: "sim" }) ?? 0;
    expect(simFrames(second.samples)).toBeGreaterThan(simFrames(first.samples));
    for (const [name, type] of [
      ["kensa_frames_total", "counter"],
      ["kensa_frames_dropped_total", "counter"],
      ["kensa_source_restarts_total", "counter"],
      ["kensa_source_reconnects_total", "counter"],
      ["kensa_inference_latency_seconds", "histogram"],
      ["kensa_outbox_depth", "gauge"],
      ["kensa_media_queue_depth", "gauge"],
      ["kensa_pipeline_queue_depth", "gauge"],
    ]) {
      expect(second.types.get(name as string), name).toBe(type);
    }
    const s = second.samples;
    const inferred = value(s, "kensa_frames_inferred_total", { pipeline: "default" }) ?? 0;
    expect(inferred).toBeGreaterThan(2);
    expect(value(s, "kensa_inference_latency_seconds_count", { pipeline: "default" })).toBe(inferred);
    expect(value(s, "kensa_inference_latency_seconds_bucket", { pipeline: "default", le: "+Inf" })).toBe(inferred);
    expect(value(s, "kensa_frames_dropped_total", { pipeline: "empty", reason: "no_model" })).toBeGreaterThan(0);
    expect(
      value(s, "kensa_push_rejected_total", { source: "line", code: "KENSA_ERR_PIPELINE_SATURATED" }),
    ).toBeGreaterThan(0);
    expect(value(s, "kensa_push_rejected_total", { source: "line", code: "KENSA_ERR_MEDIA_INVALID" })).toBe(3);
    expect(value(s, "kensa_source_up", { source: "sim", type: "synthetic" })).toBe(1);
    expect(value(s, "kensa_outbox_depth")).toBe(p.outbox.depth());
    expect(value(s, "kensa_bundle_info", { pipeline: "default", model_version: "mv-1" })).toBe(1);
    // the scraped process is this test's, whose resident memory is tens of MB at least
    expect(second.types.get("process_resident_memory_bytes")).toBe("gauge");
    expect(value(s, "process_resident_memory_bytes")).toBeGreaterThan(20 * 2 ** 20);
    expect(value(s, "nodejs_heap_used_bytes")).toBeGreaterThan(0);
  });

  it("serves the status page and answers unknown routes with a coded 404", async () => {
    const page = await fetch(`${base}${agentStatusRoutes.page.path}`);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toContain("Kensa agent");
    const missing = await fetch(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("KENSA_ERR_NOT_FOUND");
  });

  it("answers every route of its table as the table declares it, HEAD as GET, and nothing else", async () => {
    await p.pipelines.get("default")?.idle();
    const [jpeg] = await renderJpegs(1);
    // one real request per route: a route added to the table without one here does not compile
    const requests: {
      [N in keyof typeof agentStatusRoutes]: { params?: Record<string, string>; init?: RequestInit };
    } = {
      page: {},
      health: {},
      status: {},
      clips: {},
      clip: { params: { file: clip.file } },
      latestFrame: { params: { id: "line" } },
      pushFrame: {
        params: { id: "line" },
        init: { body: jpeg as BodyInit, headers: { "content-type": "image/jpeg" } },
      },
      metrics: {},
    };
    const routes = Object.entries(agentStatusRoutes) as Array<[keyof typeof agentStatusRoutes, RouteSpec]>;
    expect(routes.map(([name]) => name).sort()).toEqual(Object.keys(requests).sort());
    for (const [name, spec] of routes) {
      const { params, init } = requests[name];
      const url = `${base}${routePath(spec.path, params)}`;
      const label = `${spec.method} ${spec.path}`;
      const res = await fetch(url, { ...init, method: spec.method });
      const type = res.headers.get("content-type") ?? "";
      expect(res.status, `${label}: ${type.startsWith("application/json") ? await res.clone().text() : ""}`).toBe(
        spec.status ?? 200,
      );
      if (spec.reply) {
        expect(type, label).toMatch(/^application\/json/);
        const body: unknown = await res.json();
        expect(
          [...Value.Errors(spec.reply, body)].map((e) => `${e.path}: ${e.message}`),
          label,
        ).toEqual([]);
      } else {
        const types = spec.produces && "types" in spec.produces ? spec.produces.types : [];
        expect(
          types.some((t) => type.startsWith(t)),
          `${label} answered ${type}`,
        ).toBe(true);
        expect((await res.arrayBuffer()).byteLength, label).toBeGreaterThan(0);
      }
      if (spec.method === "GET") {
        const head = await fetch(url, { method: "HEAD" });
        expect([head.status, head.headers.get("content-type")], `HEAD ${spec.path}`).toEqual([res.status, type]);
        expect(await head.text(), `HEAD ${spec.path}`).toBe("");
      }
    }

    // the URLs the status document hands out are routes of the table
    const doc = (await (await fetch(`${base}${agentStatusRoutes.status.path}`)).json()) as AgentStatus;
    expect(doc.clips[0]?.url).toBe(routePath(agentStatusRoutes.clip.path, { file: clip.file }));
    const video = await fetch(`${base}${doc.clips[0]?.url}`);
    expect([video.status, video.headers.get("content-type")]).toEqual([200, "video/mp4"]);
    expect(Buffer.from(await video.arrayBuffer()).equals(Buffer.alloc(clip.bytes, 1))).toBe(true);
    const line = doc.sources.find((x) => x.id === "line");
    expect((await fetch(`${base}${line?.latest}`)).headers.get("content-type")).toBe("image/jpeg");

    const undeclared: Array<[string, string]> = [
      ["GET", "/nope"],
      ["GET", `${agentStatusRoutes.status.path}/more`],
      ["DELETE", agentStatusRoutes.status.path],
      ["POST", agentStatusRoutes.metrics.path],
      ["GET", routePath(agentStatusRoutes.pushFrame.path, { id: "line" })],
      ["POST", routePath(agentStatusRoutes.latestFrame.path, { id: "line" })],
      // a malformed escape names no clip: not found, not a server error
      ["GET", agentStatusRoutes.clip.path.replace(":file", "%E0")],
    ];
    for (const [method, path] of undeclared) {
      const res = await fetch(`${base}${path}`, { method });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect([res.status, body.error.code], `${method} ${path}`).toEqual([404, "KENSA_ERR_NOT_FOUND"]);
      expect(body.error.message).toBe(`no route ${method} ${path}`);
    }
  });
});

describe("agent wiring: several sources and pipelines, status server on its own port", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let agent: RunningAgent | undefined;
  afterAll(async () => {
    await agent?.stop();
    await dir?.remove();
  });

  it("routes each source to the pipeline it names and serves the status API and /metrics", async () => {
    dir = await tempDir();
    const config = loadAgentConfig({
      deviceId: "cam-wired",
      secret: "s",
      hubUrl: "http://127.0.0.1:9",
      mqttUrl: "mqtt://127.0.0.1:9",
      dataDir: join(dir.path, "agent"),
      sources: [
        { id: "line", type: "push" },
        { id: "sim", type: "synthetic", fps: 20, width: 64, height: 48, pipeline: "line-2" },
      ],
      status: { port: 0 },
    });
    agent = await startAgent(config, { logger: quiet });
    expect(agent.statusUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const s = (await (await fetch(`${agent.statusUrl}${agentStatusRoutes.status.path}`)).json()) as AgentStatus;
    expect(s.pipelines.map((x) => x.id)).toEqual(["default", "line-2"]);
    expect(s.sources.map((x) => [x.id, x.pipeline])).toEqual([
      ["line", "default"],
      ["sim", "line-2"],
    ]);
    // no bundle yet: a pushing camera is told to come back rather than silently losing parts
    const [jpeg] = await renderJpegs(1);
    const res = await fetch(`${agent.statusUrl}${routePath(agentStatusRoutes.pushFrame.path, { id: "line" })}`, {
      method: "POST",
      body: jpeg as BodyInit,
      headers: { "content-type": "image/jpeg" },
    });
    expect(res.status).toBe(503);
    await waitFor("sim frames in line-2", () => (agent?.stats().framesSkipped ?? 0) > 3);
    const metrics = parseExposition(
      await (await fetch(`${agent.statusUrl}${agentStatusRoutes.metrics.path}`)).text(),
    ).samples;
    expect(value(metrics, "kensa_frames_total", { pipeline: "line-2" })).toBeGreaterThan(0);
    expect(value(metrics, "kensa_frames_total", { pipeline: "default" })).toBe(0);
    expect(value(metrics, "kensa_mqtt_connected")).toBe(0);
    expect(agent.reported().sources).toEqual([
      { id: "line", type: "push", status: "running" },
      { id: "sim", type: "synthetic", status: "running" },
    ]);
    const url = agent.statusUrl as string;
    await agent.stop();
    agent = undefined;
    await expect(fetch(`${url}${agentStatusRoutes.health.path}`)).rejects.toThrow();
  });

  it("keeps inspecting when its status port is taken, and says so with a stable code", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    const lines: Array<Record<string, unknown>> = [];
    try {
      agent = await startAgent(
        loadAgentConfig({
          deviceId: "cam-port",
          secret: "s",
          hubUrl: "http://127.0.0.1:9",
          mqttUrl: "mqtt://127.0.0.1:9",
          dataDir: join(dir.path, "agent-port"),
          sources: [
            { id: "sim", type: "synthetic", fps: 20, width: 64, height: 48 },
            // a camera that is not there, with a budget of one restart
            {
              id: "gone",
              type: "mjpeg",
              url: "http://127.0.0.1:9/video.mjpg",
              restart: { maxRestarts: 1, backoffMs: 20, failedRetryMs: 60_000 },
            },
          ],
          status: { port },
        }),
        { logger: new Logger("error", {}, (l) => lines.push(JSON.parse(l))) },
      );
      expect(agent.statusUrl).toBeUndefined();
      expect(lines.find((l) => l.msg === "status server not started")).toMatchObject({
        code: "KENSA_ERR_AGENT_PORT_IN_USE",
      });
      await waitFor("frames", () => (agent?.stats().framesTotal ?? 0) > 2);
      // over budget: failed, with the reason in the state the hub sees
      const gone = await waitFor("the camera failed", () =>
        agent?.reported().sources.find((x) => x.id === "gone" && x.status === "failed"),
      );
      expect(gone.error?.code).toBe("KENSA_ERR_SOURCE_RESTART_BUDGET_EXHAUSTED");
      expect(gone.error?.message).toMatch(/retrying every 60 s\. Last error: .*ECONNREFUSED/);
      expect(lines.find((l) => l.msg === "source gave up fast retries")).toMatchObject({ sourceId: "gone" });
    } finally {
      await agent?.stop();
      agent = undefined;
      await new Promise((r) => blocker.close(r));
    }
  });
});
