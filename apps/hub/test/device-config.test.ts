import {
  type DeliveredDeviceConfig,
  type Desired,
  type DeviceConfigRevision,
  type DeviceConfigView,
  deviceConfigSha256,
  type ProjectDeviceConfigView,
  topics,
} from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "./auth-fixtures.js";
import { backends, basic, connectDevice, nextMessage, seed, startHub, type TestHub } from "./helpers.js";

const list = await backends("device-config");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("device config on the hub ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let secrets: Record<string, string>;

  const desiredOf = async (id: string): Promise<Desired> => {
    const c = await connectDevice(t.mqttUrl, id, secrets[id]!);
    try {
      const msg = nextMessage(c, topics.desired(id));
      await c.subscribeAsync(topics.desired(id), { qos: 1 });
      return JSON.parse((await msg).payload.toString()) as Desired;
    } finally {
      await c.endAsync(true);
    }
  };
  const put = (path: string, config: unknown, comment?: string) =>
    t.call<DeviceConfigView & ProjectDeviceConfigView & { error?: { code: string; details?: { issues: unknown[] } } }>(
      "PUT",
      path,
      { body: { config, ...(comment ? { comment } : {}) } },
    );

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    ({ projectId, secrets } = await seed(t.call, "cfg", [{ id: "cam-1" }, { id: "cam-2" }]));
  });
  afterAll(async () => {
    await t.close();
  });

  it("sends nothing while no config is set", async () => {
    expect((await desiredOf("cam-1")).config).toBeUndefined();
    const v = await t.call<DeviceConfigView>("GET", "/api/v1/devices/cam-1/config");
    expect(v.json).toMatchObject({ deviceId: "cam-1", device: null, project: null, delivered: null });
  });

  it("merges a device's config over its project's default and names it in the desired state", async () => {
    const p = await put(`/api/v1/projects/${projectId}/device-config`, {
      capture: { dailyBudget: 20, sampleRate: 0.2 },
      frameQueue: 8,
    });
    expect(p.status).toBe(200);
    expect(p.json.config?.rev).toBe(1);
    const d = await put("/api/v1/devices/cam-1/config", { capture: { dailyBudget: 5 } }, "quiet line");
    expect(d.status).toBe(200);
    const merged = { capture: { dailyBudget: 5, sampleRate: 0.2 }, frameQueue: 8 };
    expect(d.json.delivered).toEqual({ rev: 2, sha256: deviceConfigSha256(merged), config: merged });
    const desired = await desiredOf("cam-1");
    expect(desired.config).toEqual({ rev: 2, sha256: deviceConfigSha256(merged) });
    // the other device has the project's default alone, sent as its own rev 1
    expect((await desiredOf("cam-2")).config?.rev).toBe(1);
    // the device fetches what its desired state names, with its own credentials only
    const own = await t.call<DeliveredDeviceConfig>("GET", "/api/v1/devices/cam-1/config/delivered", {
      auth: basic("cam-1", secrets["cam-1"]!),
    });
    expect(own.json).toEqual(d.json.delivered);
    const other = await t.call("GET", "/api/v1/devices/cam-1/config/delivered", {
      auth: basic("cam-2", secrets["cam-2"]!),
    });
    expect(other.status).toBe(403);
  });

  it("keeps the delivered rev when a write does not change the merge", async () => {
    const d = await put("/api/v1/devices/cam-1/config", { capture: { dailyBudget: 5 } });
    expect(d.json.device?.rev).toBe(2);
    expect(d.json.delivered?.rev).toBe(2);
  });

  it("refuses invalid configs with KENSA_ERR_DEVICE_CONFIG_INVALID and the key paths, storing nothing", async () => {
    const bad = await put("/api/v1/devices/cam-1/config", {
      sources: [{ id: "s", type: "rtsp", url: "http://not-rtsp" }],
      secret: "nope",
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.code).toBe("KENSA_ERR_DEVICE_CONFIG_INVALID");
    const paths = ((bad.json.error?.details?.issues ?? []) as Array<{ path: string }>).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["/secret", "/sources/0/url"]));
    // a device config is checked on its own and merged over the project default
    await put("/api/v1/devices/cam-2/config", { capture: { band: [0.5, 0.6] } });
    const inverted = await put(`/api/v1/projects/${projectId}/device-config`, { capture: { band: [0.9, 0.95] } });
    expect(inverted.status).toBe(200);
    const low = await put("/api/v1/devices/cam-2/config", { capture: { band: [0.7, 0.4] } });
    expect(low.status).toBe(400);
    const history = await t.call<{ items: DeviceConfigRevision[] }>("GET", "/api/v1/devices/cam-1/config/history");
    expect(history.json.items.map((r) => [r.rev, r.comment])).toEqual([
      [2, null],
      [1, "quiet line"],
    ]);
    const missing = await put("/api/v1/devices/nope/config", {});
    expect(missing.json.error?.code).toBe("KENSA_ERR_DEVICE_NOT_FOUND");
  });

  it("gives a device enrolled later its project's default", async () => {
    const e = await t.call<{ secret: string }>("POST", "/api/v1/devices", {
      body: { projectId, id: "cam-3", tags: [] },
    });
    secrets["cam-3"] = e.json.secret;
    const current = { capture: { band: [0.9, 0.95] } };
    expect((await desiredOf("cam-3")).config).toEqual({ rev: 1, sha256: deviceConfigSha256(current) });
    const v = await t.call<DeviceConfigView>("GET", "/api/v1/devices/cam-3/config");
    expect(v.json.delivered?.config).toEqual(current);
  });

  it("masks camera passwords for people who may only read devices", async () => {
    const url = "rtsp://viewer:s3cret-pass@10.0.0.7:554/stream1";
    const set = await put("/api/v1/devices/cam-3/config", { sources: [{ id: "cam", type: "rtsp", url }] });
    expect(set.json.device?.config).toEqual({ sources: [{ id: "cam", type: "rtsp", url }] });
    const site = await createUser(t.httpUrl, t.call, "site_engineer");
    const seen = await site.call<DeviceConfigView>("GET", "/api/v1/devices/cam-3/config");
    expect(seen.status).toBe(200);
    const masked = "rtsp://viewer:***@10.0.0.7:554/stream1";
    expect(seen.json.device?.config).toEqual({ sources: [{ id: "cam", type: "rtsp", url: masked }] });
    expect(JSON.stringify(seen.json)).not.toContain("s3cret-pass");
    const history = await site.call<{ items: DeviceConfigRevision[] }>("GET", "/api/v1/devices/cam-3/config/history");
    expect(JSON.stringify(history.json)).not.toContain("s3cret-pass");
    // the device itself gets the real URL, and so does a device manager
    const own = await t.call<DeliveredDeviceConfig>("GET", "/api/v1/devices/cam-3/config/delivered", {
      auth: basic("cam-3", secrets["cam-3"]!),
    });
    expect(JSON.stringify(own.json)).toContain("s3cret-pass");
    expect((await site.call("PUT", "/api/v1/devices/cam-3/config", { body: { config: {} } })).status).toBe(403);
  });

  it("audits every change", async () => {
    const audit = await t.call<{ items: Array<{ action: string; target: string | null }> }>(
      "GET",
      "/api/v1/audit?limit=100",
    );
    const actions = audit.json.items.map((a) => a.action);
    expect(actions.filter((a) => a === "device.config_set").length).toBe(4);
    expect(actions.filter((a) => a === "project.device_config_set").length).toBe(2);
  });
});
