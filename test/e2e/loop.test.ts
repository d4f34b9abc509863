import { createHash } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { fleetRoutes, incidentRoutes, registryRoutes, systemRoutes, topics } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  createInspectionProject,
  deployToDevices,
  deployToTag,
  enrollAgents,
  pushBlemishModel,
  type ScenarioAgent,
  type ScenarioHub,
  startScenarioHub,
  syntheticCamera,
  uploadModel,
} from "@kensa/scenario";
import {
  type SmtpSink,
  startSmtpSink,
  startWebhookSink,
  type TempDir,
  tempDir,
  type WebhookSink,
  waitFor,
} from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The walking skeleton end to end: a real hub (embedded broker, SQLite, blob store), two real
 * agent processes with synthetic cameras, a real SMTP server and a real webhook receiver.
 */
describe("the loop on the embedded default", () => {
  const WEBHOOK_SECRET = "e2e-webhook-secret-0123456789";
  let dir: TempDir;
  let smtp: SmtpSink;
  let webhook: WebhookSink;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let urls: { httpUrl: string; mqttUrl: string };
  let projectId: string;
  let modelV1: { id: string; sha256: string };
  const agents = new Map<string, ScenarioAgent>();

  const device = (id: string) => api.call(fleetRoutes.get, { params: { id } });
  const eventsOf = async (deviceId: string) =>
    (await api.call(incidentRoutes.listEvents, { query: { deviceId, limit: 10000 } })).items;
  const incident = (id: string) => api.call(incidentRoutes.get, { params: { id } });

  beforeAll(async () => {
    dir = await tempDir();
    smtp = await startSmtpSink();
    webhook = await startWebhookSink(WEBHOOK_SECRET);
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dir.path, "hub"),
      smtp: { host: smtp.host, port: smtp.port, from: "kensa@e2e.test" },
      config: { notifications: { attempts: 3, backoffMs: 100 } },
    });
    urls = { httpUrl: hub.httpUrl, mqttUrl: hub.mqttUrl };
    api = hub.client;
    const project = await createInspectionProject(api, {
      slug: "e2e-surface",
      name: "E2E surface",
      notifications: {
        email: ["qa@plant.example"],
        webhooks: [{ url: webhook.url, secret: WEBHOOK_SECRET }],
        cooldownSec: 0,
      },
    });
    projectId = project.id;
    modelV1 = await pushBlemishModel(api, projectId);

    const cameras = ["cam-a", "cam-b"].map((id, i) => ({
      id,
      tags: ["line-1"],
      sources: [syntheticCamera(7 + i, { fps: 5, defectRate: 0.4 })],
    }));
    const started = await enrollAgents(api, projectId, cameras, {
      dir: dir.path,
      config: { telemetryIntervalMs: 1000, reportIntervalMs: 2000 },
    });
    for (const a of started) agents.set(a.id, a);
  }, 120_000);

  afterAll(async () => {
    // on failure, what the agents said is the first thing to read
    for (const [id, a] of agents) {
      const notable = a.process.logs.filter((l) => l.level === "warn" || l.level === "error" || l.level === "stderr");
      if (notable.length) console.log(`${id} logs:\n${notable.map((l) => JSON.stringify(l)).join("\n")}`);
    }
    await Promise.all([...agents.values()].map((a) => a.process.kill("SIGKILL")));
    await hub?.close();
    await webhook?.close();
    await smtp?.close();
    await dir?.remove();
  });

  it("shows both devices online and loads the deployed model on each", async () => {
    await waitFor("both devices online", async () => {
      const ds = await Promise.all(["cam-a", "cam-b"].map(device));
      return ds.every((d) => d.presence === "online");
    });
    const dep = await deployToTag(api, modelV1.id, "line-1");
    expect(dep.deviceIds.sort()).toEqual(["cam-a", "cam-b"]);
    for (const id of ["cam-a", "cam-b"]) {
      await waitFor(`${id} reports the bundle loaded`, async () => {
        const p = (await device(id)).reported?.pipelines.find((x) => x.id === "default");
        return p?.status === "loaded" && p.bundle?.sha256 === dep.bundleSha256;
      });
    }
  });

  it("stores events and raises incidents for defective frames only", async () => {
    await waitFor("60 events and 5 incidents", async () => {
      const s = await api.call(systemRoutes.stats);
      return s.events >= 60 && s.incidents >= 5;
    });
    const incidents = (await api.call(incidentRoutes.list, { query: { limit: 1000 } })).items;
    const wrongly = incidents.filter((i) => !i.frameMeta.defect);
    expect(wrongly, "incidents raised for frames without a defect").toEqual([]);
    const events = [...(await eventsOf("cam-a")), ...(await eventsOf("cam-b"))];
    const defective = events.filter((e) => e.frameMeta.defect);
    const flagged = defective.filter((e) => e.result.task === "classification" && e.result.finding);
    expect(defective.length).toBeGreaterThan(5);
    expect(flagged.length / defective.length, "share of defective frames found").toBeGreaterThan(0.9);
    // the agent uploads the frame of every finding
    await waitFor("incident media uploaded", async () => (await incident(incidents[0]!.id)).mediaSha256);
    const media = await api.fetch(incidentRoutes.getMedia, { params: { id: incidents[0]!.id } });
    expect(media.headers.get("content-type")).toContain("image/jpeg");
    expect((await media.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  });

  it("notifies by e-mail over SMTP and by a signed webhook", async () => {
    await waitFor("an e-mail", () => smtp.mails.length > 0);
    await waitFor("a webhook", () => webhook.received.length > 0);
    const mail = smtp.mails[0]!;
    expect(mail.to).toEqual(["qa@plant.example"]);
    expect(mail.subject).toMatch(/defect/);
    expect(mail.text).toContain(urls.httpUrl);
    const hook = webhook.received[0]!;
    expect(hook.signatureValid).toBe(true);
    expect((hook.json as { type: string }).type).toBe("incident.created");
  });

  it("stores a verdict with who and when", async () => {
    const [inc] = (await api.call(incidentRoutes.list, { query: { status: "open", limit: 1 } })).items;
    expect(inc).toBeDefined();
    const v = await api.call(incidentRoutes.createVerdict, {
      params: { id: inc!.id },
      body: { verdict: "false_alarm", by: "site.engineer@plant.example", note: "glare" },
    });
    expect(v.by).toBe("site.engineer@plant.example");
    const after = await incident(inc!.id);
    expect(after.status).toBe("false_alarm");
    expect(after.verdicts.map((x) => [x.verdict, x.by])).toEqual([["false_alarm", "site.engineer@plant.example"]]);
    expect(Date.parse(after.verdicts[0]!.createdAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("drops malformed payloads and refuses foreign topics and wrong secrets, and keeps running", async () => {
    const b = agents.get("cam-b")!;
    const before = await api.call(systemRoutes.stats);
    const intruder = await mqtt.connectAsync(urls.mqttUrl, {
      clientId: "cam-b-probe",
      username: "cam-b",
      password: b.secret,
      reconnectPeriod: 0,
    });
    await intruder.publishAsync(topics.events("cam-b"), "{not json", { qos: 1 });
    await intruder.publishAsync(topics.events("cam-b"), JSON.stringify({ v: 1, id: "x" }), { qos: 1 });
    await waitFor(
      "two invalid payloads counted",
      async () => (await api.call(systemRoutes.stats)).ingest.invalid >= before.ingest.invalid + 2,
    );
    await intruder.endAsync();
    // publishing under another device's topic: the broker disconnects the publisher and the hub
    // never sees the message (MQTT 3.1.1 has no per-message refusal)
    const forger = await mqtt.connectAsync(urls.mqttUrl, {
      clientId: "cam-b-forger",
      username: "cam-b",
      password: b.secret,
      reconnectPeriod: 0,
    });
    const closed = new Promise<void>((resolve) => forger.once("close", () => resolve()));
    const forged = { ...(await eventsOf("cam-a"))[0], id: "forged-event-0001" };
    forger.publish(topics.events("cam-a"), JSON.stringify(forged), { qos: 1 });
    await closed;
    forger.end(true);
    await expect(api.call(incidentRoutes.getEvent, { params: { id: "forged-event-0001" } })).rejects.toMatchObject({
      status: 404,
    });
    await expect(
      mqtt.connectAsync(urls.mqttUrl, {
        clientId: "cam-b-bad",
        username: "cam-b",
        password: "wrong",
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/Not authorized|Bad username or password/i);
    expect((await api.call(systemRoutes.health)).status).toBe("ok");
    const later = (await api.call(systemRoutes.stats)).events;
    await waitFor("events keep flowing", async () => (await api.call(systemRoutes.stats)).events > later);
  });

  it("refuses an upload that is not ONNX and stores nothing", async () => {
    const models = async () => (await api.call(registryRoutes.list, { query: { projectId } })).items.length;
    const before = await models();
    const bogus = new TextEncoder().encode("this is not a model");
    await expect(
      uploadModel(api, projectId, { onnx: bogus, manifest: buildBlemishModel().manifest }),
    ).rejects.toMatchObject({ code: "KENSA_ERR_MODEL_INVALID_ONNX" });
    expect(await models()).toBe(before);
    // agents keep uploading frames meanwhile, so look for the upload itself, not a file count
    const files = await listFiles(join(dir.path, "hub", "blobs"));
    expect(files.map((f) => f.name)).not.toContain(createHash("sha256").update(bogus).digest("hex"));
  });

  it("an agent keeps its model when the hub's copy of a new model is corrupt", async () => {
    const v2 = await pushBlemishModel(api, projectId, { width: 48, height: 48, fileName: "blemish-48.onnx" });
    expect(v2.sha256).not.toBe(modelV1.sha256);
    // corrupt the stored model, as a failing disk would. Building a bundle reads the model (the
    // golden frames' outputs are computed from it), so the hub finds the corruption there,
    // quarantines the file and refuses the deployment; serving a corrupt blob is refused the
    // same way (apps/hub/test/blob-integrity.test.ts), and a bundle altered in transit is
    // refused by the agent's own hash check (apps/agent/test/agent.test.ts)
    const blob = await findBlob(join(dir.path, "hub", "blobs"), v2.sha256);
    const bytes = await readFile(blob);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10]! + 1) % 256;
    await writeFile(blob, bytes);
    await expect(deployToDevices(api, v2.id, ["cam-b"])).rejects.toMatchObject({
      code: "KENSA_ERR_BLOB_CORRUPT",
      status: 500,
    });
    await expect(stat(blob)).rejects.toThrow(/ENOENT/);
    const p = (await device("cam-b")).reported?.pipelines.find((y) => y.id === "default");
    expect(p?.bundle?.modelVersionId).toBe(modelV1.id);
    const seen = (await eventsOf("cam-b")).length;
    await waitFor("cam-b keeps inspecting with the old model", async () => {
      const evs = await eventsOf("cam-b");
      return evs.length > seen + 3 && evs.slice(seen).every((e) => e.modelVersionId === modelV1.id);
    });
  });

  it("loses and duplicates nothing when an agent is killed mid-stream", async () => {
    const a = agents.get("cam-a")!;
    const before = (await eventsOf("cam-a")).length;
    await waitFor("cam-a mid-stream", async () => (await eventsOf("cam-a")).length > before + 5);
    await a.process.kill("SIGKILL");
    await a.restart();
    const killedAt = (await eventsOf("cam-a")).length;
    await waitFor("cam-a back and sending", async () => (await eventsOf("cam-a")).length > killedAt + 10, {
      timeoutMs: 45_000,
    });
    // a graceful stop flushes the outbox, so everything the agent ever created is at the hub
    expect(await a.process.kill("SIGTERM")).toBe(0);
    const events = await eventsOf("cam-a");
    const seqs = events.map((e) => e.seq).sort((x, y) => x - y);
    const ids = new Set(events.map((e) => e.id));
    expect(ids.size, "duplicate event ids").toBe(events.length);
    expect(seqs[0]).toBe(1);
    expect(seqs, "gap-free sequence").toEqual(seqs.map((_, i) => i + 1));
    const sent = await agentSequenceCounter(String(a.config.dataDir));
    expect(sent, "every event the agent created reached the hub").toBe(seqs.length);
  });
});

async function listFiles(root: string) {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile());
}

async function findBlob(root: string, sha: string): Promise<string> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const hit = entries.find((e) => e.isFile() && e.name === sha);
  if (!hit) throw new Error(`blob ${sha} not found under ${root}`);
  return join(hit.parentPath, hit.name);
}

/** The last sequence number the agent assigned, read from its own outbox database. */
async function agentSequenceCounter(agentDir: string): Promise<number> {
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(join(agentDir, "agent.db"), { readonly: true });
  try {
    const pending = db.prepare("SELECT COUNT(*) AS n FROM outbox").get() as { n: number };
    expect(pending.n, "events left in the outbox").toBe(0);
    return readCounter(db);
  } finally {
    db.close();
  }
}

function readCounter(db: import("better-sqlite3").Database): number {
  // the agent keeps its last assigned sequence number in `counters`; see apps/agent/src/agent-db.ts
  const row = db.prepare("SELECT value FROM counters WHERE name = 'event_seq'").get() as { value: number } | undefined;
  return Number(row?.value ?? 0);
}
