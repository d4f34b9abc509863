import {
  type Device,
  type ModelVersion,
  type Reported,
  registryRoutes,
  type ShadowAgreement,
  shadowRoutes,
  topics,
} from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// the real `kensa` command in a child process, as the CLI's own tests run it
import { kensa } from "../../cli/test/run-kensa.js";
import { shadowAgreementFor, wilson } from "../src/shadow/shadow-agreement-aggregate.js";
import { backends, connectDevice, seed, startHub, type TestHub } from "./helpers.js";

const list = await backends("shadow-agreement");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const SHA_CHAMP = "c".repeat(64);
const SHA_CHALL = "d".repeat(64);

function upload(t: TestHub, projectId: string, width: number): Promise<ModelVersion> {
  const model = buildBlemishModel({ width, height: width });
  const form = new FormData();
  form.set("projectId", projectId);
  form.set("manifest", JSON.stringify(model.manifest));
  form.set("model", new Blob([model.onnx as Uint8Array<ArrayBuffer>]), `blemish-${width}.onnx`);
  return t.client.call(registryRoutes.upload, { upload: form });
}

describe.each(list)("shadow agreement: stored from reported states, aggregated per pair ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let champion: ModelVersion;
  let challenger: ModelVersion;
  const devices: Record<string, MqttClient> = {};
  let ts = Date.parse("2026-03-01T10:00:00Z");

  /** a reported state of one pipeline running the champion with the challenger as its shadow */
  const reported = (agreement: unknown, over: Partial<Reported> = {}): Reported => {
    ts += 1000;
    return {
      v: 1,
      ts: new Date(ts).toISOString(),
      agentVersion: "0.1.0",
      arch: "x64",
      platform: "linux",
      desiredRev: 3,
      pipelines: [
        {
          id: "default",
          status: "loaded",
          bundle: { sha256: SHA_CHAMP, modelVersionId: champion.id },
          shadow: { sha256: SHA_CHALL, modelVersionId: challenger.id },
          ...(agreement === undefined ? {} : { shadowAgreement: agreement }),
        },
      ],
      sources: [{ id: "cam", type: "synthetic", status: "running" }],
      ...over,
    } as Reported;
  };
  const agreement = (over: Partial<ShadowAgreement>): ShadowAgreement => ({
    bundleModelVersionId: champion.id,
    bundleSha256: SHA_CHAMP,
    shadowModelVersionId: challenger.id,
    shadowSha256: SHA_CHALL,
    since: "2026-03-01T09:00:00.000Z",
    frames: 0,
    agree: 0,
    byLabel: {},
    scoreDelta: { mean: 0, p95: 0 },
    captures: 0,
    ...over,
  });
  const publish = (deviceId: string, body: unknown) =>
    devices[deviceId]!.publishAsync(topics.reported(deviceId), JSON.stringify(body), { qos: 1 });
  const deviceReported = async (id: string) =>
    (await t.call<Device & { reported: Reported | null }>("GET", `/api/v1/devices/${id}`)).json.reported;
  const agreementOf = () => t.client.call(shadowRoutes.agreement, { params: { id: challenger.id } });
  const db = () => t.hub.store.db;

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    const seeded = await seed(t.call, "shadow", [{ id: "cam-1" }, { id: "cam-2" }]);
    projectId = seeded.projectId;
    champion = await upload(t, projectId, 64);
    challenger = await upload(t, projectId, 32);
    for (const id of ["cam-1", "cam-2"]) devices[id] = await connectDevice(t.mqttUrl, id, seeded.secrets[id]!);
  });
  afterAll(async () => {
    for (const c of Object.values(devices)) await c.endAsync(true);
    await t?.close();
  });

  it("sums two devices' cumulative figures per pair, with a Wilson interval, and never winds a session back", async () => {
    await publish(
      "cam-1",
      reported(
        agreement({
          frames: 100,
          agree: 90,
          byLabel: { ok: { frames: 80, agree: 78 }, defect: { frames: 20, agree: 12 } },
          scoreDelta: { mean: 0.05, p95: 0.2 },
          captures: 10,
        }),
      ),
    );
    await publish(
      "cam-2",
      reported(
        agreement({
          since: "2026-03-01T09:30:00.000Z",
          frames: 50,
          agree: 40,
          byLabel: { ok: { frames: 30, agree: 30 }, defect: { frames: 20, agree: 10 } },
          scoreDelta: { mean: 0.1, p95: 0.4 },
          captures: 5,
        }),
      ),
    );
    // an older report of cam-1's session delivered late: its smaller figures are not taken
    await publish("cam-1", reported(agreement({ frames: 60, agree: 59, byLabel: { ok: { frames: 60, agree: 59 } } })));
    // cam-1 restarted its counters (a new session of the same pair): a row of its own
    await publish(
      "cam-1",
      reported(
        agreement({
          since: "2026-03-01T11:00:00.000Z",
          frames: 10,
          agree: 10,
          byLabel: { ok: { frames: 10, agree: 10 } },
          scoreDelta: { mean: 0.02, p95: 0.03 },
        }),
      ),
    );
    const reply = await waitFor("three sessions stored", async () => {
      const r = await agreementOf();
      return r.pairs[0]?.overall.frames === 160 ? r : undefined;
    });
    expect(reply.challengerModelVersionId).toBe(challenger.id);
    expect(reply.pairs).toHaveLength(1);
    const pair = reply.pairs[0]!;
    expect(pair).toMatchObject({
      championModelVersionId: champion.id,
      challengerModelVersionId: challenger.id,
      devices: 2,
      deviceIds: ["cam-1", "cam-2"],
      captures: 15,
      since: "2026-03-01T09:00:00.000Z",
      iou: null,
    });
    expect(pair.overall).toMatchObject({ frames: 160, agree: 140, rate: 0.875 });
    // Wilson 95% for 140 of 160, computed independently: [0.8148, 0.9176]
    expect(pair.overall.interval[0]).toBeCloseTo(0.8148, 3);
    expect(pair.overall.interval[1]).toBeCloseTo(0.9176, 3);
    expect(pair.byLabel.map((l) => [l.label, l.frames, l.agree])).toEqual([
      ["ok", 120, 118],
      ["defect", 40, 22],
    ]);
    expect(pair.scoreDelta.mean).toBeCloseTo((0.05 * 100 + 0.1 * 50 + 0.02 * 10) / 160, 4);
    expect(pair.scoreDelta.p95Max).toBe(0.4);

    // what a rollout gate calls: by device, and by sessions started since a time
    const one = await shadowAgreementFor(db(), { challengerModelVersionId: challenger.id, deviceIds: ["cam-2"] });
    expect(one.pairs[0]?.overall).toMatchObject({ frames: 50, agree: 40 });
    expect(one.pairs[0]?.overall.interval[0]).toBeCloseTo(0.6696, 3);
    const recent = await shadowAgreementFor(db(), {
      challengerModelVersionId: challenger.id,
      since: "2026-03-01T09:15:00Z",
    });
    expect(recent.pairs[0]?.overall).toMatchObject({ frames: 60, agree: 50 });
    expect(recent.pairs[0]?.deviceIds).toEqual(["cam-1", "cam-2"]);
    const none = await shadowAgreementFor(db(), { challengerModelVersionId: challenger.id, deviceIds: [] });
    expect(none.pairs).toEqual([]);
    // the champion ran beside nothing: it has no agreement as a challenger
    expect((await t.client.call(shadowRoutes.agreement, { params: { id: champion.id } })).pairs).toEqual([]);
    const missing = await t.call<{ error: { code: string } }>("GET", "/api/v1/models/mdl_nope/shadow-agreement");
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("KENSA_ERR_MODEL_NOT_FOUND");
  });

  it("`kensa model show` prints the agreement beside the offline metrics", async () => {
    const shown = await kensa(
      { KENSA_HUB_URL: t.httpUrl, KENSA_ADMIN_TOKEN: t.hub.adminToken },
      "model",
      "show",
      challenger.id,
    );
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("shadow agreement (on devices, beside a champion)");
    expect(shown.stdout).toContain(
      `beside ${champion.id}: agrees on 87.5 % [81.5 %, 91.8 %] of 160 frames (95 % Wilson) on 2 devices, score delta mean 0.064, 15 disagreements captured`,
    );
    const own = await kensa(
      { KENSA_HUB_URL: t.httpUrl, KENSA_ADMIN_TOKEN: t.hub.adminToken },
      "model",
      "show",
      champion.id,
    );
    expect(own.stdout).toMatch(/shadow agreement \(on devices, beside a champion\)\n\s+not run in shadow yet/);
  }, 60_000);

  it("drops a malformed agreement and keeps the rest of the reported state", async () => {
    const before = (await agreementOf()).pairs[0]!.overall.frames;
    // more agreeing frames than frames, under the session cam-2 already has
    await publish(
      "cam-2",
      reported(agreement({ since: "2026-03-01T09:30:00.000Z", frames: 500, agree: 900 }), { agentVersion: "0.2.0" }),
    );
    const kept = await waitFor("the new reported state", async () => {
      const r = await deviceReported("cam-2");
      return r?.agentVersion === "0.2.0" ? r : undefined;
    });
    expect(kept.pipelines[0]).toMatchObject({ id: "default", status: "loaded" });
    expect(kept.pipelines[0]?.shadowAgreement).toBeUndefined();
    // the wrong type entirely
    await publish("cam-2", reported({ frames: "many" }, { agentVersion: "0.2.1" }));
    await waitFor("the second reported state", async () => (await deviceReported("cam-2"))?.agentVersion === "0.2.1");
    expect((await deviceReported("cam-2"))?.pipelines[0]?.shadowAgreement).toBeUndefined();
    expect((await agreementOf()).pairs[0]!.overall.frames).toBe(before);
  });

  it("clamps an oversized per-label table, folding the smallest labels into (other)", async () => {
    const byLabel: Record<string, { frames: number; agree: number }> = {};
    for (let i = 0; i < 200; i++) byLabel[`class-${String(i).padStart(3, "0")}`] = { frames: 200 - i, agree: 1 };
    byLabel["x".repeat(500)] = { frames: 7, agree: 7 };
    const frames = Object.values(byLabel).reduce((n, c) => n + c.frames, 0);
    await publish(
      "cam-2",
      reported(agreement({ since: "2026-03-01T12:00:00.000Z", frames, agree: 207, byLabel }), {
        agentVersion: "0.3.0",
      }),
    );
    const kept = await waitFor("the clamped reported state", async () => {
      const r = await deviceReported("cam-2");
      return r?.agentVersion === "0.3.0" ? r : undefined;
    });
    const stored = kept.pipelines[0]?.shadowAgreement;
    expect(Object.keys(stored?.byLabel ?? {})).toHaveLength(64);
    expect(stored?.byLabel["class-000"]).toEqual({ frames: 200, agree: 1 });
    expect(stored?.byLabel["class-063"]).toBeUndefined();
    // 137 folded classes (63…199) and the overlong label: every frame is still counted
    const folded = Array.from({ length: 137 }, (_, k) => 200 - (63 + k)).reduce((n, f) => n + f, 0) + 7;
    expect(stored?.byLabel["(other)"]).toEqual({ frames: folded, agree: 137 + 7 });
    const sum = Object.values(stored?.byLabel ?? {}).reduce((n, c) => n + c.frames, 0);
    expect(sum).toBe(frames);
    const pair = await waitFor("the clamped session aggregated", async () => {
      const p = (await agreementOf()).pairs[0];
      return p && p.overall.frames === 160 + frames ? p : undefined;
    });
    expect(pair.byLabel.length).toBeLessThanOrEqual(64);
  });

  it("computes the Wilson interval at the edges", () => {
    expect(wilson(0, 0)).toEqual({ frames: 0, agree: 0, rate: null, interval: [0, 1] });
    const all = wilson(100, 100);
    expect(all.rate).toBe(1);
    expect(all.interval[1]).toBe(1);
    // 100 of 100 still leaves room below: the normal approximation would claim [1, 1]
    expect(all.interval[0]).toBeCloseTo(0.963, 3);
    expect(wilson(0, 10).interval[0]).toBe(0);
  });
});
