import {
  type AuditPage,
  type DriftReport,
  type DriftStatistic,
  type Evaluation,
  type Event,
  type ModelVersion,
  type TrainingRun,
  type TrainingSettings,
  topics,
} from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DriftAlert } from "../src/drift/drift-service.js";
import { AuditLog } from "../src/people/audit-log.js";
import { registerDriftMetrics } from "../src/system/drift-metrics.js";
import { TriggerScheduler } from "../src/training/trigger-scheduler.js";
import { backends, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";
import { brightnessModel, SIDE, uploadGrey, uploadModel } from "./registry-gate-models.js";

/** grey levels of the snapshot's images: mean brightness 0.35, 0.45, 0.55, 0.65 (luma bins 3…6) */
const LEVELS = [89, 115, 140, 166];

const list = await backends("drift");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)(
  "drift: field histograms against the snapshot, PSI, a threshold that retrains once ($name)",
  (backend) => {
    let t: TestHub;
    let projectId: string;
    let champion: ModelVersion;
    let secrets: Record<string, string>;
    const clients: MqttClient[] = [];
    const seqs = new Map<string, number>();

    const drift = async (id: string, query = "") => {
      const r = await t.call<DriftReport>("GET", `/api/v1/models/${id}/drift${query}`);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      return r.json;
    };
    const group = (r: DriftReport, deviceId: string | null) => r.groups.find((g) => g.deviceId === deviceId)!;
    const stat = (
      r: DriftReport,
      deviceId: string | null,
      s: DriftStatistic["statistic"],
      label: string | null = null,
    ) => group(r, deviceId).statistics.find((x) => x.statistic === s && x.label === label)!;

    /** publishes events of the champion from a real MQTT client and waits until the hub stored them */
    async function publish(
      deviceId: string,
      frames: Array<{ luma: number; contrast: number; label: string; score: number }>,
    ) {
      const client = await connectDevice(t.mqttUrl, deviceId, secrets[deviceId]!);
      clients.push(client);
      const before = group(await drift(champion.id), deviceId)?.frames ?? 0;
      for (const f of frames) {
        const seq = (seqs.get(deviceId) ?? 0) + 1;
        seqs.set(deviceId, seq);
        const e: Event = {
          ...makeEvent(deviceId, { label: f.label, score: f.score }),
          seq,
          bundle: { sha256: champion.sha256, modelVersionId: champion.id },
          input: { luma: f.luma, contrast: f.contrast },
        };
        await client.publishAsync(topics.events(deviceId), JSON.stringify(e), { qos: 1 });
      }
      await waitFor(`${frames.length} events of ${deviceId} stored`, async () =>
        (group(await drift(champion.id), deviceId)?.frames ?? 0) === before + frames.length ? true : null,
      );
    }

    beforeAll(async () => {
      // training only on remote workers, of which there are none: a triggered run stays queued
      t = await startHub({ database: backend.database(), training: { pollMs: 50, remote: { localTraining: false } } });
      // looks happen when the test says (below)
      await t.hub.training.triggers.stop();
      ({ projectId, secrets } = await seed(t.call, "drift", [{ id: "cam-1" }, { id: "cam-2" }]));
      await uploadGrey(
        t.call,
        projectId,
        // 96 images, half of them in the test split: over DRIFT_MIN_REFERENCE per headline label
        Array.from({ length: 96 }, (_, i) => ({ level: LEVELS[i % 4]!, tag: i >> 2, defect: LEVELS[i % 4]! > 128 })),
      );
      const snap = await t.call<{ id: string }>("POST", `/api/v1/projects/${projectId}/snapshots`, {
        body: { ratios: { train: 0.25, val: 0.25, test: 0.5 }, by: "qa" },
      });
      expect(snap.status, JSON.stringify(snap.json)).toBe(201);
      const put = await t.call("PUT", `/api/v1/projects/${projectId}/training-settings`, {
        body: { evaluationSnapshotId: snap.json.id, defaults: { input: { width: SIDE, height: SIDE, channels: 3 } } },
      });
      expect(put.status, JSON.stringify(put.json)).toBe(200);
      champion = await uploadModel(t.call, projectId, brightnessModel(0.5), "brightness");
      const ev = await t.call<Evaluation>("POST", `/api/v1/models/${champion.id}/evaluations`, { body: {} });
      expect(ev.status, JSON.stringify(ev.json)).toBeLessThan(300);
      const done = await waitFor("the evaluation", async () => {
        const e = (await t.call<Evaluation>("GET", `/api/v1/evaluations/${ev.json.id}`)).json;
        return e.status === "succeeded" || e.status === "failed" ? e : null;
      });
      expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
      const ok = await t.call("POST", `/api/v1/models/${champion.id}/approve`, {
        body: { by: "qa", reason: "drift test champion", deploy: false },
      });
      expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    }, 120_000);

    afterAll(async () => {
      for (const c of clients) await c.endAsync().catch(() => undefined);
      await t?.close();
    });

    it("keeps the reference with the evaluation: the snapshot's test images as the model saw them", async () => {
      const r = await drift(champion.id);
      expect(r.reference?.samples).toBeGreaterThanOrEqual(20);
      const luma = stat(r, null, "luma").reference!;
      // uniform grey images of four levels: luma in bins 3…6 only, contrast 0, scores near 1
      expect(luma.slice(3, 7).every((n) => n > 0)).toBe(true);
      expect(luma.reduce((a, b) => a + b, 0)).toBe(r.reference!.samples);
      expect(luma[3]! + luma[4]! + luma[5]! + luma[6]!).toBe(r.reference!.samples);
      expect(stat(r, null, "contrast").reference![0]).toBe(r.reference!.samples);
      expect(stat(r, null, "score").reference![9]).toBe(r.reference!.samples);
      expect(stat(r, null, "score", "ok").reference![9]).toBe(luma[3]! + luma[4]!);
      expect(stat(r, null, "score", "defect").reference![9]).toBe(luma[5]! + luma[6]!);
      // nothing in the field yet
      expect(group(r, null).frames).toBe(0);
      expect(stat(r, null, "luma")).toMatchObject({ status: "few-frames", psi: null });
      // the API's evaluation does not carry it
      const evals = await t.call<{ items: Evaluation[] }>("GET", `/api/v1/models/${champion.id}/evaluations`);
      expect(JSON.stringify(evals.json.items[0]!.metrics)).not.toContain('"drift"');
    });

    it("reports no reference, never a number, for a model without one (not evaluated, or evaluated before 0027)", async () => {
      const other = await uploadModel(t.call, projectId, brightnessModel(0.4), "unevaluated");
      const r = await drift(other.id);
      expect(r.reference).toBeNull();
      for (const s of group(r, null).statistics)
        expect(s).toMatchObject({ status: "no-reference", psi: null, band: null });
      // an evaluation stored before drift references: its metrics JSON has no `drift`
      const ev = await t.call<Evaluation>("POST", `/api/v1/models/${other.id}/evaluations`, { body: {} });
      await waitFor("the second evaluation", async () =>
        (await t.call<Evaluation>("GET", `/api/v1/evaluations/${ev.json.id}`)).json.status === "succeeded"
          ? true
          : null,
      );
      expect((await drift(other.id)).reference?.evaluationId).toBe(ev.json.id);
      const db = t.hub.store.db;
      const row = await db
        .selectFrom("evaluations")
        .select("metrics")
        .where("id", "=", ev.json.id)
        .executeTakeFirstOrThrow();
      const { drift: _gone, ...old } = JSON.parse(row.metrics!) as Record<string, unknown>;
      await db
        .updateTable("evaluations")
        .set({ metrics: JSON.stringify(old) })
        .where("id", "=", ev.json.id)
        .execute();
      const before = await drift(other.id);
      expect(before.reference).toBeNull();
      expect(stat(before, null, "score").status).toBe("no-reference");
      // and a bad window is a coded error
      const bad = await t.call<{ error: { code: string } }>("GET", `/api/v1/models/${other.id}/drift?window=90d`);
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe("KENSA_ERR_VALIDATION");
      const none = await t.call<{ error: { code: string } }>("GET", "/api/v1/models/mdl_nope/drift");
      expect(none.status).toBe(404);
      expect(none.json.error.code).toBe("KENSA_ERR_MODEL_NOT_FOUND");
    });

    it("a device seeing what the snapshot showed stays stable, per device and for the fleet", async () => {
      const ref = await drift(champion.id);
      const luma = stat(ref, null, "luma").reference!;
      // three frames per reference sample, in the reference's proportions, each statistic at its bin's middle
      const frames = luma.flatMap((n, bin) =>
        Array.from({ length: 3 * n }, () => ({
          luma: (bin + 0.5) / 10,
          contrast: 0.02,
          label: bin < 5 ? "ok" : "defect",
          score: 0.995,
        })),
      );
      await publish("cam-1", frames);
      const r = await drift(champion.id);
      expect(group(r, "cam-1")).toMatchObject({ frames: frames.length, framesWithInput: frames.length });
      for (const g of [null, "cam-1"]) {
        for (const s of group(r, g).statistics) {
          expect(s.status, `${g} ${s.statistic} ${s.label}`).toBe("ok");
          expect(s.band, `${g} ${s.statistic} ${s.label}`).toBe("stable");
          expect(s.psi!).toBeLessThan(1e-9);
        }
      }
    });

    it("a shifted brightness is significant for that device and the fleet; the drift trigger queues exactly one retrain", async () => {
      // cam-2's lighting changed: every frame is far brighter than any snapshot image
      await publish(
        "cam-2",
        Array.from({ length: 120 }, (_, i) => ({
          luma: 0.85 + (i % 10) / 100,
          contrast: 0.02,
          label: "defect",
          score: 0.995,
        })),
      );
      const r = await drift(champion.id, "?window=24h");
      expect(r.window.hours).toBe(24);
      expect(stat(r, "cam-2", "luma")).toMatchObject({ status: "ok", band: "significant" });
      expect(stat(r, "cam-2", "luma").field.slice(8)).toEqual([60, 60]);
      expect(stat(r, "cam-1", "luma").band).toBe("stable");
      const fleet = stat(r, null, "luma");
      expect(fleet.band).toBe("significant");
      expect(fleet.psi!).toBeGreaterThan(0.25);
      // contrast did not move
      expect(stat(r, null, "contrast").band).toBe("stable");

      // the gauge a Prometheus scrape reads
      const registry = new Registry();
      registerDriftMetrics(registry, t.hub.store.db);
      const text = await registry.metrics();
      const line = text.split("\n").find((l) => l.startsWith("kensa_drift_psi{") && l.includes('statistic="luma"'));
      expect(line).toContain(`project="drift",model_version="${champion.id}"`);
      expect(Number(line!.split(" ").at(-1))).toBeCloseTo(fleet.psi!, 6);

      const alerts: DriftAlert[] = [];
      const triggers = new TriggerScheduler({
        db: t.hub.store.db,
        settings: t.hub.training.settings,
        runs: t.hub.training.runs,
        queue: t.hub.training.queue,
        log: t.hub.app.log,
        pollMs: 60_000,
        audit: new AuditLog(t.hub.store.db),
        onDrift: (a) => {
          alerts.push(a);
        },
      });
      const driftRuns = async () =>
        (await t.call<{ items: TrainingRun[] }>("GET", `/api/v1/projects/${projectId}/runs`)).json.items.filter(
          (x) => x.trigger.type === "drift",
        );
      const later = (minutes: number) => new Date(Date.now() + minutes * 60_000);

      // a threshold on contrast, which did not drift, starts nothing
      const on = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
        body: { triggers: { drift: { psi: 0.25, statistic: "contrast" } } },
      });
      expect(on.status, JSON.stringify(on.json)).toBe(200);
      expect(on.json.triggers.drift).toEqual({ psi: 0.25, statistic: "contrast", windowHours: 24 });
      await triggers.tick();
      expect(await driftRuns()).toEqual([]);
      expect(alerts).toEqual([]);

      await t.call("PUT", `/api/v1/projects/${projectId}/training-settings`, {
        body: { triggers: { drift: { psi: 0.25, statistic: "luma" } } },
      });
      await triggers.tick(later(2));
      const [run] = await driftRuns();
      expect(run?.status).toBe("queued");
      expect(run!.trigger.detail).toBe(
        `champion ${champion.id}: luma PSI ${fleet.psi!.toFixed(3)} over 24h (threshold 0.25)`,
      );
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ projectId, modelVersionId: champion.id, statistic: "luma", runId: null });
      const audit = await t.call<AuditPage>("GET", "/api/v1/audit?actor=trigger:drift");
      expect(audit.json.items.map((a) => a.action).sort()).toEqual(["drift.detected", "run.create"]);

      // later looks in the window, with the run queued and after it ended, start nothing more
      await triggers.tick(later(4));
      const cancel = await t.call("POST", `/api/v1/runs/${run!.id}/cancel`, { body: {} });
      expect(cancel.status, JSON.stringify(cancel.json)).toBeLessThan(300);
      await triggers.tick(later(6));
      await triggers.tick(later(8));
      expect((await driftRuns()).map((x) => x.id)).toEqual([run!.id]);
      expect(alerts).toHaveLength(1);
      // a day later the window holds none of these frames: too few to say anything, nothing starts
      await triggers.tick(later(25 * 60));
      expect(await driftRuns()).toHaveLength(1);
      await triggers.stop();
    }, 60_000);
  },
);
