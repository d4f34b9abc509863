/**
 * Where the rollout bench's devices get their model: straight from one hub ("direct"), or from a
 * site hub that received the model from a central hub over a counted uplink ("site"). Each hub
 * is its own process (SQLite, embedded broker), so CPU and memory are the hubs' own.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { federationRoutes, fleetRoutes, projectRoutes, registryRoutes, trainingRoutes } from "@kensa/contracts";
import { adminClient, uploadModel } from "@kensa/scenario";
import { buildUNet } from "@kensa/vision/graph";
import Database from "better-sqlite3";
import { UplinkProxy } from "../../apps/hub/test/federation-fixtures.js";
import { forkTs, nextMessage, stopChild } from "../ingest/child.js";
import type { HubProcMessage } from "../ingest/hub-proc.js";

export type Via = "direct" | "site";

export interface Topology {
  via: Via;
  /** the hub the devices are enrolled at and download from */
  deviceHub: { httpUrl: string; mqttUrl: string; pid: number; api: KensaClient; dbPath: string };
  /** every hub process (the CPU the rollout cost) */
  pids: number[];
  projectId: string;
  modelBytes: number;
  /**
   * Starts the rollout (direct: a deployment to the devices' tag; site: central approves the
   * model, and the site deploys it once it pulled it) and resolves with the bundle the devices
   * get once the device hub made the deployment.
   */
  deploy(): Promise<{ bundleSha256: string; requestMs: number }>;
  /** bytes over the uplink between site and central (null: direct, there is none) */
  uplinkBytes(): { up: number; down: number } | null;
  /** what the hub processes printed */
  output(): string;
  close(): Promise<void>;
}

const PROJECT = { slug: "rollout", name: "rollout", task: "segmentation" as const };

async function startHubProc(config: Record<string, unknown>) {
  const proc = forkTs(join(import.meta.dirname, "..", "ingest", "hub-proc.ts"), [JSON.stringify(config)]);
  const started = await nextMessage<Extract<HubProcMessage, { type: "started" }>>(proc.child, "started").catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${proc.output()}`);
    },
  );
  return { proc, started, close: async () => void (await stopChild(proc.child, { type: "close" }, 10_000)) };
}

function hubConfig(dir: string, name: string, extra: Record<string, unknown>) {
  return {
    dataDir: join(dir, name),
    http: { host: "127.0.0.1", port: 0 },
    mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
    database: { type: "sqlite", path: join(dir, `${name}.db`) },
    adminToken: randomBytes(24).toString("hex"),
    logLevel: "warn",
    training: { workers: 0 },
    ...extra,
  };
}

/** a segmentation model of ≈10 MB (a U-Net, fp32): big enough that copies show */
function benchModel() {
  return buildUNet({ channels: [37, 74, 148, 296], size: 128 });
}

export async function startTopology(via: Via, dir: string, rollout: Record<string, unknown>): Promise<Topology> {
  return via === "direct" ? direct(dir, rollout) : site(dir, rollout);
}

async function direct(dir: string, rollout: Record<string, unknown>): Promise<Topology> {
  const config = hubConfig(dir, "hub", rollout);
  const hub = await startHubProc(config);
  const api = adminClient(hub.started.httpUrl, hub.started.adminToken);
  const model = benchModel();
  const project = await api.call(projectRoutes.create, {
    body: { ...PROJECT, labels: [...model.manifest.labels], okLabels: [model.manifest.labels[0]!] },
  });
  const version = await uploadModel(api, project.id, model, "unet.onnx");
  return {
    via: "direct",
    deviceHub: { ...hub.started, api, dbPath: config.database.path },
    pids: [hub.started.pid],
    projectId: project.id,
    modelBytes: version.size,
    async deploy() {
      const t0 = Date.now();
      const d = await api.call(fleetRoutes.createDeployment, {
        body: { modelVersionId: version.id, pipeline: "default", target: { tags: ["rollout"], deviceIds: [] } },
      });
      return { bundleSha256: d.bundleSha256, requestMs: Date.now() - t0 };
    },
    uplinkBytes: () => null,
    output: () => hub.proc.output(),
    close: hub.close,
  };
}

async function site(dir: string, rollout: Record<string, unknown>): Promise<Topology> {
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const central = await startHubProc(hubConfig(dir, "central", { federation: { settleMs: 200 } }));
    closers.push(central.close);
    const centralApi = adminClient(central.started.httpUrl, central.started.adminToken);
    const model = benchModel();
    const body = { ...PROJECT, labels: [...model.manifest.labels], okLabels: [model.manifest.labels[0]!] };
    const centralProject = await centralApi.call(projectRoutes.create, { body });
    const { token } = await centralApi.call(federationRoutes.createSite, {
      body: { id: "bench-site", name: "Bench site", projects: [PROJECT.slug] },
    });
    const uplink = new UplinkProxy(Number(new URL(central.started.httpUrl).port));
    await uplink.open();
    closers.push(() => uplink.cut());
    const siteConfig = hubConfig(dir, "site", {
      ...rollout,
      federation: {
        central: { url: uplink.url, siteId: "bench-site", token },
        intervalSeconds: 1,
        maxBackoffSeconds: 1,
        settleMs: 200,
      },
    });
    const siteHub = await startHubProc(siteConfig);
    closers.push(siteHub.close);
    const siteApi = adminClient(siteHub.started.httpUrl, siteHub.started.adminToken);
    const siteProject = await siteApi.call(projectRoutes.create, { body });
    await siteApi.call(trainingRoutes.updateSettings, {
      params: { id: siteProject.id },
      body: { autoDeploy: { tags: ["rollout"] } },
    });
    const version = await uploadModel(centralApi, centralProject.id, model, "unet.onnx");
    const reader = new Database(siteConfig.database.path, { readonly: true, fileMustExist: true });
    closers.push(async () => reader.close());
    const latest = reader.prepare(
      "SELECT bundle_sha256 FROM deployments WHERE project_id = ? ORDER BY created_at DESC",
    );
    return {
      via: "site",
      deviceHub: { ...siteHub.started, api: siteApi, dbPath: siteConfig.database.path },
      pids: [central.started.pid, siteHub.started.pid],
      projectId: siteProject.id,
      modelBytes: version.size,
      async deploy() {
        const t0 = Date.now();
        await centralApi.call(registryRoutes.approve, {
          params: { id: version.id },
          body: { by: "bench", reason: "site fan-out bench", deploy: true },
        });
        // the site pulls the approval, downloads the model once, registers and deploys it
        for (;;) {
          const row = latest.get(siteProject.id) as { bundle_sha256: string } | undefined;
          if (row) return { bundleSha256: row.bundle_sha256, requestMs: Date.now() - t0 };
          if (Date.now() - t0 > 120_000) throw new Error("the site made no deployment within 120 s of the approval");
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      uplinkBytes: () => ({ ...uplink.bytes }),
      output: () => `${central.proc.output()}\n${siteHub.proc.output()}`,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** enrolls `n` devices tagged "rollout" at the device hub, 20 at a time */
export async function enrollDevices(t: Topology, n: number): Promise<Array<{ id: string; secret: string }>> {
  const devices: Array<{ id: string; secret: string }> = [];
  for (let i = 0; i < n; i += 20) {
    const batch = Array.from({ length: Math.min(20, n - i) }, (_, k) => `sim-${String(i + k).padStart(4, "0")}`);
    const enrolled = await Promise.all(
      batch.map((id) =>
        t.deviceHub.api.call(fleetRoutes.enroll, { body: { projectId: t.projectId, id, tags: ["rollout"] } }),
      ),
    );
    devices.push(...enrolled.map((e) => ({ id: e.device.id, secret: e.secret })));
  }
  return devices;
}
