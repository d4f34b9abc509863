import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { tlsFetch } from "@kensa/agent";
import { KensaClient } from "@kensa/client";
import {
  fleetRoutes,
  incidentRoutes,
  type ModelManifest,
  projectRoutes,
  registryRoutes,
  topics,
} from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  type AgentProcess,
  repoRoot,
  spawnAgent,
  type TempDir,
  type TestCertificateAuthority,
  tempDir,
  testCertificateAuthority,
  waitFor,
} from "@kensa/testkit";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

/**
 * A hub and a real agent process that talk only over HTTPS and MQTT over TLS, with
 * certificates from a site CA that neither Node nor the system trusts by default: enrolment
 * through the CLI, the bundle download, events, and the incidents' frames.
 */
describe("an agent and a hub over HTTPS and MQTT/TLS with a site CA", () => {
  let dir: TempDir;
  let ca: TestCertificateAuthority;
  let caFile: string;
  let hub: Hub;
  let api: KensaClient;
  let agent: AgentProcess | undefined;
  let httpUrl: string;
  let mqttUrl: string;
  let projectId: string;

  /** `kensa device enroll` as a user runs it; resolves with its stdout, rejects on a non-zero exit */
  const enroll = (id: string, env: Record<string, string>) =>
    run(
      process.execPath,
      [
        ...["--import", "tsx", join(repoRoot, "apps/cli/src/main.ts"), "device", "enroll"],
        ...["--hub", httpUrl, "--token", hub.adminToken, "--project", projectId, "--id", id, "--tag", "line"],
      ],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 60_000 },
    );

  beforeAll(async () => {
    dir = await tempDir();
    ca = await testCertificateAuthority("Plant CA");
    const server = await ca.write(dir.path, "hub", await ca.server(["127.0.0.1", "localhost"]));
    caFile = join(dir.path, "plant-ca.crt");
    await ca.write(dir.path, "plant-ca", { cert: ca.cert, key: ca.key });
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      http: { port: 0, tls: server },
      mqtt: { embedded: { port: 0, tls: { ...server, clientCertificates: "optional" } } },
      logLevel: "warn",
    });
    ({ httpUrl, mqttUrl } = await hub.start());
    api = new KensaClient({
      baseUrl: httpUrl,
      auth: { kind: "bearer", token: hub.adminToken },
      fetch: tlsFetch({ ca: Buffer.from(ca.cert) }),
    });
    const project = await api.call(projectRoutes.create, {
      body: {
        slug: "tls-line",
        name: "TLS line",
        task: "classification",
        labels: ["ok", "defect"],
        okLabels: ["ok"],
        rule: { type: "threshold", labels: ["defect"], minScore: 0.6 },
      },
    });
    projectId = project.id;
  }, 60_000);

  afterAll(async () => {
    const notable = agent?.logs.filter((l) => l.level === "error" || l.level === "stderr");
    if (notable?.length) console.log(notable.map((l) => JSON.stringify(l)).join("\n"));
    await agent?.kill("SIGKILL");
    await hub?.close();
    await dir?.remove();
  });

  it("refuses the CLI that does not trust the site CA, and enrols with it", async () => {
    const refused = await enroll("cam-1", {}).then(
      () => null,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(refused?.code).not.toBe(0);
    expect(refused?.stderr ?? "").toMatch(/certificate|fetch failed|self[- ]signed|issuer/i);
    await expect(api.call(fleetRoutes.get, { params: { id: "cam-1" } })).rejects.toMatchObject({ status: 404 });
    const { stdout } = await enroll("cam-1", { NODE_EXTRA_CA_CERTS: caFile });
    expect(stdout).toContain("device cam-1 enrolled");
    expect(stdout).toContain(`--hub ${httpUrl}`);
  }, 90_000);

  it("downloads its bundle over HTTPS, sends events over MQTT/TLS and uploads the incidents' frames", async () => {
    const manifest: ModelManifest = {
      task: "classification",
      input: { name: "images", width: 16, height: 16, channels: 3, layout: "NCHW" },
      preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
      labels: ["ok", "defect"],
      okLabels: ["ok"],
      postprocessing: { type: "classification", activation: "none", output: "scores" },
      thresholds: { default: 0.5, perClass: {} },
    };
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
    // the CLI printed the secret once; the typed client rotates one for the agent here
    const { secret } = await api.call(fleetRoutes.rotateSecret, { params: { id: "cam-1" } });
    const dep = await api.call(fleetRoutes.createDeployment, {
      body: { modelVersionId: model.id, pipeline: "default", target: { deviceIds: [], tags: ["line"] } },
    });
    agent = await spawnAgent(
      {
        deviceId: "cam-1",
        hubUrl: httpUrl,
        mqttUrl,
        tls: { ca: caFile },
        dataDir: join(dir.path, "agent"),
        sources: [{ id: "synthetic", type: "synthetic", fps: 4, seed: 5, defectRate: 0.3 }],
        reportIntervalMs: 1000,
        status: { port: 0 },
      },
      join(dir.path, "agent.json"),
      { KENSA_DEVICE_SECRET: secret },
    );
    const loaded = async () => {
      const d = await api.call(fleetRoutes.get, { params: { id: "cam-1" } });
      const p = d.reported?.pipelines.find((x) => x.id === "default");
      return p?.status === "loaded" && p.bundle?.sha256 === dep.bundleSha256;
    };
    await waitFor("the bundle loaded over HTTPS", loaded, { timeoutMs: 60_000 });
    const events = async () =>
      (await api.call(incidentRoutes.listEvents, { query: { deviceId: "cam-1", limit: 1000 } })).items;
    await waitFor("3 events over MQTT/TLS", async () => (await events()).length >= 3, { timeoutMs: 60_000 });
    const incidents = async () => (await api.call(incidentRoutes.list, { query: { projectId, limit: 100 } })).items;
    await waitFor("an incident with its frame uploaded over HTTPS", async () =>
      (await incidents()).some((i) => i.mediaSha256 !== null),
    );
    const device = await api.call(fleetRoutes.get, { params: { id: "cam-1" } });
    expect(device.presence).toBe("online");
  }, 150_000);

  it("issues a device certificate on the hub's machine that the broker takes instead of a secret", async () => {
    const out = join(dir.path, "cam-1-cert");
    const { stdout } = await run(
      process.execPath,
      [
        ...["--import", "tsx", join(repoRoot, "apps/cli/src/main.ts"), "device", "certificate"],
        ...["--id", "cam-1", "--data-dir", join(dir.path, "hub"), "--out", out],
      ],
      { cwd: repoRoot, timeout: 60_000 },
    );
    expect(stdout).toContain("certificate for cam-1");
    const [cert, key] = await Promise.all([readFile(join(out, "device.crt")), readFile(join(out, "device.key"))]);
    const client = await mqtt.connectAsync(mqttUrl, {
      ca: ca.cert,
      cert,
      key,
      clientId: "cam-1-cert",
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    // the device's own topics only, as with its secret
    await client.publishAsync(topics.presence("cam-1"), JSON.stringify({ v: 1, status: "online" }), { qos: 1 });
    await client.endAsync();
  }, 90_000);
});
