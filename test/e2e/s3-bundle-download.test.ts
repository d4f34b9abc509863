import { join } from "node:path";
import { KensaClient } from "@kensa/client";
import { fleetRoutes, incidentRoutes, type ModelManifest, projectRoutes, registryRoutes } from "@kensa/contracts";
import { createHub } from "@kensa/hub";
import { type AgentProcess, spawnAgent, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3_CREDENTIALS, type S3Server, s3Store, startS3Server } from "../../apps/hub/test/s3-fixture.js";

const BUCKET = "kensa-e2e";

/**
 * A hub whose blobs live in an S3 bucket with presigned downloads: a real agent loads its
 * bundle and model straight from storage (following the hub's 302), and the frames it uploads
 * land in the bucket through the hub.
 */
describe("an agent behind a hub on S3 with presigned downloads", () => {
  const manifest: ModelManifest = {
    task: "classification",
    input: { name: "images", width: 16, height: 16, channels: 3, layout: "NCHW" },
    preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    labels: ["ok", "defect"],
    okLabels: ["ok"],
    postprocessing: { type: "classification", activation: "none", output: "scores" },
    thresholds: { default: 0.5, perClass: {} },
  };
  let dir: TempDir;
  let server: S3Server;
  let hub: Awaited<ReturnType<typeof createHub>>;
  let api: KensaClient;
  let agent: AgentProcess | undefined;
  let projectId: string;
  let bundleSha: string;
  let modelSha: string;

  beforeAll(async () => {
    dir = await tempDir();
    server = await startS3Server([BUCKET]);
    hub = await createHub(
      {
        dataDir: join(dir.path, "hub"),
        http: { host: "127.0.0.1", port: 0 },
        mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
        logLevel: "warn",
        blobs: {
          kind: "s3",
          s3: {
            endpoint: server.endpoint,
            bucket: BUCKET,
            prefix: "site/",
            forcePathStyle: true,
            presign: { enabled: true, ttlSeconds: 60 },
          },
        },
      },
      {
        env: {
          ...process.env,
          KENSA_S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
          KENSA_S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
        },
      },
    );
    const urls = await hub.start();
    api = new KensaClient({ baseUrl: urls.httpUrl, auth: { kind: "bearer", token: hub.adminToken } });
    const project = await api.call(projectRoutes.create, {
      body: { slug: "s3-site", name: "S3 site", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    projectId = project.id;
    const onnx = buildFixedOutputModel({
      input: "images",
      width: 16,
      height: 16,
      outputs: [{ name: "scores", dims: [1, 2], values: [0.2, 0.8] }],
    });
    const form = new FormData();
    form.set("projectId", projectId);
    form.set("manifest", JSON.stringify(manifest));
    form.set("model", new Blob([Buffer.from(onnx)]), "fixed.onnx");
    const model = await api.call(registryRoutes.upload, { upload: form });
    modelSha = model.sha256;
    const enrolled = await api.call(fleetRoutes.enroll, { body: { projectId, id: "s3-cam", tags: ["line"] } });
    const dep = await api.call(fleetRoutes.createDeployment, {
      body: { modelVersionId: model.id, pipeline: "default", target: { deviceIds: ["s3-cam"], tags: [] } },
    });
    bundleSha = dep.bundleSha256;
    const config = {
      deviceId: "s3-cam",
      hubUrl: enrolled.hubUrl,
      mqttUrl: enrolled.mqttUrl,
      dataDir: join(dir.path, "agent"),
      sources: [{ id: "synthetic", type: "synthetic", fps: 4, seed: 5, defectRate: 0.5 }],
      reportIntervalMs: 1000,
      status: { port: 0 },
    };
    agent = await spawnAgent(config, join(dir.path, "agent.json"), { KENSA_DEVICE_SECRET: enrolled.secret });
  }, 120_000);

  afterAll(async () => {
    const notable = agent?.logs.filter((l) => l.level === "error" || l.level === "stderr");
    if (notable?.length) console.log(notable.map((l) => JSON.stringify(l)).join("\n"));
    await agent?.kill("SIGKILL");
    await hub?.close();
    await server?.remove();
    await dir?.remove();
  });

  it("loads the bundle and model from presigned URLs, and its frames land in the bucket", async () => {
    await waitFor(
      "the bundle loaded",
      async () => {
        const d = await api.call(fleetRoutes.get, { params: { id: "s3-cam" } });
        const p = d.reported?.pipelines.find((x) => x.id === "default");
        return p?.status === "loaded" && p.bundle?.sha256 === bundleSha;
      },
      { timeoutMs: 60_000 },
    );
    // the device fetched both objects from storage itself, with a signed URL and no hub credentials
    const signedGets = server.requests.filter((r) => r.startsWith("GET") && r.includes("X-Amz-Signature="));
    expect(signedGets.some((r) => r.includes(`/sha256/${bundleSha.slice(0, 2)}/${bundleSha}?`))).toBe(true);
    expect(signedGets.some((r) => r.includes(`/sha256/${modelSha.slice(0, 2)}/${modelSha}?`))).toBe(true);

    await waitFor(
      "an incident with its frame",
      async () => {
        const items = (await api.call(incidentRoutes.list, { query: { projectId, limit: 100 } })).items;
        return items.some((i) => i.mediaSha256 !== null);
      },
      { timeoutMs: 60_000 },
    );
    const items = (await api.call(incidentRoutes.list, { query: { projectId, limit: 100 } })).items;
    const frame = items.find((i) => i.mediaSha256 !== null)!.mediaSha256!;
    const store = s3Store(server, BUCKET, "site/", join(dir.path, "spool"));
    expect(await store.verify(frame, { quarantine: false })).toBe("ok");
  }, 150_000);
});
