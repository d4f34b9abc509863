import type { Deployment, Desired, Device, EnrolledDevice, ModelVersion, UpdatedDevice } from "@kensa/contracts";
import { topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "./auth-fixtures.js";
import {
  type ApiCall,
  backends,
  basic,
  connectDevice,
  JPEG_TINY,
  makeEvent,
  nextMessage,
  seed,
  startHub,
  type TestHub,
} from "./helpers.js";

/**
 * What happens to a device after enrolment, other than its credentials: edits, tag changes and
 * the tag deployments they select, retirement and deletion, with real MQTT clients, on SQLite
 * and PostgreSQL.
 */
const list = await backends("device-retire");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

type ErrorReply = { error: { code: string } };

async function uploadModel(call: ApiCall, projectId: string, width: number): Promise<ModelVersion> {
  const m = buildBlemishModel({ width, height: width });
  const form = new FormData();
  form.set("projectId", projectId);
  form.set("manifest", JSON.stringify(m.manifest));
  form.set("model", new Blob([m.onnx as BlobPart], { type: "application/octet-stream" }), "m.onnx");
  const r = await call<ModelVersion>("POST", "/api/v1/models", { raw: form });
  if (r.status !== 201) throw new Error(`upload: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

const closed = (c: MqttClient) => new Promise<void>((resolve) => c.once("close", () => resolve()));

describe.each(list)("device lifecycle: edits, tags, retire, delete ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let secrets: Record<string, string>;
  const models: ModelVersion[] = [];
  const deps: Record<string, Deployment> = {};
  const clients: MqttClient[] = [];

  const deploy = async (modelIdx: number, target: { deviceIds?: string[]; tags?: string[] }) =>
    t.call<Deployment & ErrorReply>("POST", "/api/v1/deployments", {
      body: { modelVersionId: models[modelIdx]!.id, target: { deviceIds: [], tags: [], ...target } },
    });
  const patch = (id: string, body: Record<string, unknown>) =>
    t.call<UpdatedDevice & ErrorReply>("PATCH", `/api/v1/devices/${id}`, { body });
  const device = (id: string) => t.call<Device & ErrorReply>("GET", `/api/v1/devices/${id}`);
  const bundleOf = async (id: string): Promise<string | undefined> => {
    const c = await connectDevice(t.mqttUrl, id, secrets[id]!);
    clients.push(c);
    try {
      const msg = nextMessage(c, topics.desired(id));
      await c.subscribeAsync(topics.desired(id), { qos: 1 });
      const desired = JSON.parse((await msg).payload.toString()) as Desired;
      return desired.pipelines.find((p) => p.id === "default")?.bundle?.sha256;
    } finally {
      await c.endAsync(true);
    }
  };

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    ({ projectId, secrets } = await seed(t.call, "retire", [
      { id: "cam-a", tags: ["line-a"] },
      { id: "cam-b", tags: ["line-b"] },
      { id: "cam-t" },
      { id: "cam-r", tags: ["line-a"] },
      { id: "cam-new" },
      { id: "cam-live" },
    ]));
    for (const w of [32, 48, 64]) models.push(await uploadModel(t.call, projectId, w));
    deps.a = (await deploy(0, { tags: ["line-a"] })).json;
    deps.b = (await deploy(1, { tags: ["line-b"] })).json;
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await t?.close();
  });

  it("edits name and description, audits what changed, and refuses bad edits", async () => {
    const r = await patch("cam-t", { name: "  Press 3 camera ", description: "above the press, facing down" });
    expect(r.status).toBe(200);
    expect(r.json.device).toMatchObject({ name: "Press 3 camera", description: "above the press, facing down" });
    expect(r.json.applied).toEqual([]);
    expect((await patch("cam-t", { description: null })).json.device.description).toBeNull();

    const audit = await t.call<{ items: Array<{ targetId: string; details: Record<string, unknown> }> }>(
      "GET",
      "/api/v1/audit?action=device.update&target=device:cam-t",
    );
    expect(audit.json.items.map((e) => e.details.changes)).toEqual([
      { description: { from: "above the press, facing down", to: null } },
      {
        name: { from: "cam-t", to: "Press 3 camera" },
        description: { from: null, to: "above the press, facing down" },
      },
    ]);

    const both = await patch("cam-t", { tags: ["x"], addTags: ["y"] });
    expect([both.status, both.json.error.code]).toEqual([400, "KENSA_ERR_VALIDATION"]);
    const badTag = await patch("cam-t", { addTags: ["Not A Tag"] });
    expect([badTag.status, badTag.json.error.code]).toEqual([400, "KENSA_ERR_VALIDATION"]);
    const missing = await patch("nope", { name: "x" });
    expect([missing.status, missing.json.error.code]).toEqual([404, "KENSA_ERR_DEVICE_NOT_FOUND"]);
    const site = await createUser(t.httpUrl, t.call, "site_engineer");
    expect((await site.call("PATCH", "/api/v1/devices/cam-t", { body: { name: "y" } })).status).toBe(403);
    expect((await site.call("POST", "/api/v1/devices/cam-t/retire")).status).toBe(403);
    expect((await site.call("DELETE", "/api/v1/devices/cam-new")).status).toBe(403);
  });

  it("a tag change gives the device what its new tags select, and never takes a model away", async () => {
    const added = await patch("cam-t", { addTags: ["line-a"] });
    expect(added.json.applied).toEqual([
      { deploymentId: deps.a!.id, pipeline: "default", modelVersionId: models[0]!.id },
    ]);
    expect(await bundleOf("cam-t")).toBe(deps.a!.bundleSha256);
    const recorded = await t.call<{ items: Deployment[] }>("GET", `/api/v1/deployments?projectId=${projectId}`);
    expect(recorded.json.items.find((d) => d.id === deps.a!.id)?.deviceIds).toContain("cam-t");

    // the latest deployment naming any of its tags wins; losing that tag goes back to the other
    expect((await patch("cam-t", { addTags: ["line-b"] })).json.applied.map((a) => a.deploymentId)).toEqual([
      deps.b!.id,
    ]);
    expect(await bundleOf("cam-t")).toBe(deps.b!.bundleSha256);
    expect((await patch("cam-t", { removeTags: ["line-b"] })).json.applied.map((a) => a.deploymentId)).toEqual([
      deps.a!.id,
    ]);
    const rev = (await device("cam-t")).json.desiredRev;
    expect((await patch("cam-t", { addTags: ["unrelated"] })).json.applied).toEqual([]);
    expect((await device("cam-t")).json.desiredRev).toBe(rev);

    // a canary by device id, newer than the tag deployments, stays through a tag change
    const canary = (await deploy(2, { deviceIds: ["cam-t"] })).json;
    const swapped = await patch("cam-t", { tags: ["line-b"] });
    expect(swapped.json.device.tags).toEqual(["line-b"]);
    expect(swapped.json.applied).toEqual([]);
    expect(await bundleOf("cam-t")).toBe(canary.bundleSha256);
    // no tag left: the device keeps running what it has
    const none = await patch("cam-t", { tags: [] });
    expect(none.json.applied).toEqual([]);
    expect(await bundleOf("cam-t")).toBe(canary.bundleSha256);
    const audit = await t.call<{ items: Array<{ details: { applied: unknown[]; changes: { tags?: unknown } } }> }>(
      "GET",
      "/api/v1/audit?action=device.update&target=device:cam-t&limit=20",
    );
    expect(audit.json.items.some((e) => e.details.applied.length === 1)).toBe(true);
    expect(audit.json.items[0]!.details.changes.tags).toEqual({ from: ["line-b"], to: [] });
  });

  it("retires a device: disconnected, refused, out of lists, counts and deployments; history kept", async () => {
    const stats0 = (await t.call<{ devices: { total: number } }>("GET", "/api/v1/stats")).json.devices.total;
    const c = await connectDevice(t.mqttUrl, "cam-r", secrets["cam-r"]!, { clientId: "cam-r" });
    clients.push(c);
    const ev = makeEvent("cam-r", { label: "defect", score: 0.97 });
    await c.publishAsync(topics.events("cam-r"), JSON.stringify(ev), { qos: 1 });
    await waitFor("event stored", async () => (await t.call("GET", `/api/v1/events/${ev.id}`)).status === 200);
    const ended = closed(c);
    // a deployment naming it with another device by id, to be made again after a rule change
    const both = (await deploy(2, { deviceIds: ["cam-b", "cam-r"] })).json;

    // how fast is device-revocation-timing.test.ts's to measure
    const r = await t.call<Device>("POST", "/api/v1/devices/cam-r/retire");
    expect(r.status).toBe(200);
    expect(r.json.retiredAt).toEqual(expect.any(String));
    expect(r.json.revokedAt).toEqual(expect.any(String));
    await ended;
    await expect(connectDevice(t.mqttUrl, "cam-r", secrets["cam-r"]!)).rejects.toThrow();
    const upload = await t.call("PUT", "/api/v1/devices/cam-r/frame", {
      auth: basic("cam-r", secrets["cam-r"]!),
      headers: { "content-type": "image/jpeg" },
      raw: JPEG_TINY,
    });
    expect(upload.status).toBe(401);

    const ids = async (q: string) =>
      (await t.call<{ items: Device[] }>("GET", `/api/v1/devices${q}`)).json.items.map((d) => d.id);
    expect(await ids("")).not.toContain("cam-r");
    expect(await ids("?retired=include")).toContain("cam-r");
    expect(await ids("?retired=only")).toEqual(["cam-r"]);
    expect((await t.call<{ devices: { total: number } }>("GET", "/api/v1/stats")).json.devices.total).toBe(stats0 - 1);
    expect((await t.call("GET", `/api/v1/events/${ev.id}`)).status).toBe(200);

    const again = await t.call<Device>("POST", "/api/v1/devices/cam-r/retire");
    expect(again.json.retiredAt).toBe(r.json.retiredAt);
    const rotate = await t.call<ErrorReply>("POST", "/api/v1/devices/cam-r/secret/rotate");
    expect([rotate.status, rotate.json.error.code]).toEqual([409, "KENSA_ERR_DEVICE_RETIRED"]);
    const byId = await deploy(1, { deviceIds: ["cam-r"] });
    expect([byId.status, byId.json.error.code]).toEqual([409, "KENSA_ERR_DEVICE_RETIRED"]);
    const byTag = await deploy(1, { tags: ["line-a"] });
    expect(byTag.status).toBe(201);
    expect(byTag.json.deviceIds).not.toContain("cam-r");
    expect((await patch("cam-r", { addTags: ["line-b"] })).json.applied).toEqual([]);

    const audit = await t.call<{ items: unknown[] }>("GET", "/api/v1/audit?action=device.retire&target=device:cam-r");
    expect(audit.json.items).toHaveLength(1);

    // the rule changes: that deployment is made again for the device still in service
    const rule = { type: "threshold", labels: [], minScore: 0.71 };
    expect((await t.call("PATCH", `/api/v1/projects/${projectId}`, { body: { rule } })).status).toBe(200);
    const again2 = await waitFor("the deployment made again", async () => {
      const all = await t.call<{ items: Deployment[] }>("GET", `/api/v1/deployments?projectId=${projectId}`);
      return all.json.items.find(
        (d) => d.createdAt > both.createdAt && d.modelVersionId === models[2]!.id && d.deviceIds.includes("cam-b"),
      );
    });
    expect(again2.deviceIds).toEqual(["cam-b"]);
    expect(again2.target.deviceIds).toEqual(["cam-b"]);
  });

  it("deletes only a retired device or one that never connected, keeping its history and its id", async () => {
    const live = await connectDevice(t.mqttUrl, "cam-live", secrets["cam-live"]!);
    clients.push(live);
    const ev = makeEvent("cam-live");
    await live.publishAsync(topics.events("cam-live"), JSON.stringify(ev), { qos: 1 });
    await waitFor("event stored", async () => (await t.call("GET", `/api/v1/events/${ev.id}`)).status === 200);
    const refused = await t.call<ErrorReply>("DELETE", "/api/v1/devices/cam-live");
    expect([refused.status, refused.json.error.code]).toEqual([409, "KENSA_ERR_DEVICE_NOT_RETIRED"]);
    expect((await device("cam-live")).status).toBe(200);

    // never connected: deleted at once, its secret dead with it
    expect((await t.call("DELETE", "/api/v1/devices/cam-new")).status).toBe(204);
    await expect(connectDevice(t.mqttUrl, "cam-new", secrets["cam-new"]!)).rejects.toThrow();
    const gone = await device("cam-new");
    expect([gone.status, gone.json.error.code]).toEqual([404, "KENSA_ERR_DEVICE_NOT_FOUND"]);
    const reenrol = await t.call<EnrolledDevice & ErrorReply>("POST", "/api/v1/devices", {
      body: { projectId, id: "cam-new" },
    });
    expect([reenrol.status, reenrol.json.error.code]).toEqual([409, "KENSA_ERR_DEVICE_EXISTS"]);

    // retired with history: the record goes, its events stay
    const events = await t.call<{ items: Array<{ id: string }> }>("GET", "/api/v1/events?deviceId=cam-r");
    expect(events.json.items.length).toBeGreaterThan(0);
    expect((await t.call("DELETE", "/api/v1/devices/cam-r")).status).toBe(204);
    expect((await device("cam-r")).status).toBe(404);
    expect(
      (await t.call<{ items: Device[] }>("GET", "/api/v1/devices?retired=include")).json.items.map((d) => d.id),
    ).not.toContain("cam-r");
    const after = await t.call<{ items: Array<{ id: string }> }>("GET", "/api/v1/events?deviceId=cam-r");
    expect(after.json.items.map((e) => e.id)).toEqual(events.json.items.map((e) => e.id));
    expect((await t.call("DELETE", "/api/v1/devices/cam-r")).status).toBe(404);

    const audit = await t.call<{ items: Array<{ targetId: string; details: Record<string, unknown> }> }>(
      "GET",
      "/api/v1/audit?action=device.delete",
    );
    const entry = audit.json.items.find((e) => e.targetId === "cam-r");
    expect(entry?.details).toMatchObject({ projectId, eventsStored: 1, frameKept: false });
  });
});
