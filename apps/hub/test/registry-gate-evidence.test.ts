import type { CreatedSnapshot, GateReport } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, startHub, type TestHub } from "./helpers.js";
import { brightnessModel, uploadGrey, uploadModel } from "./registry-gate-models.js";
import { waitForGate } from "./training-fixtures.js";

const list = await backends("registry-gate-evidence");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

/** level L → the threshold halfway between L and L + 1 */
const between = (level: number) => (level + 0.5) / 255;

/**
 * The gate on evidence, through the hub: real ONNX models (brightness classifiers built in code)
 * scored by ONNX Runtime on a frozen snapshot whose every sample is in the test split, so each
 * model's disagreements with the champion are known exactly.
 */
describe.each(list)("the gate decides on evidence ($name)", (backend) => {
  let t: TestHub;

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  /** a project whose samples are all test samples, judged on that snapshot */
  async function project(slug: string, images: Array<{ level: number; tag: number; defect: boolean }>, gate = {}) {
    const p = await t.call<{ id: string }>("POST", "/api/v1/projects", {
      body: { slug, name: slug, task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    expect(p.status, JSON.stringify(p.json)).toBe(201);
    await uploadGrey(t.call, p.json.id, images);
    const snap = await t.call<CreatedSnapshot>("POST", `/api/v1/projects/${p.json.id}/snapshots`, {
      body: { ratios: { train: 0, val: 0, test: 1 }, by: "qa" },
    });
    expect(snap.status, JSON.stringify(snap.json)).toBe(201);
    const put = await t.call("PUT", `/api/v1/projects/${p.json.id}/training-settings`, {
      body: { evaluationSnapshotId: snap.json.id, gate: { minPrimary: 0.8, ...gate } },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    return p.json.id;
  }

  async function gateOf(projectId: string, threshold: number, name: string, gain?: number): Promise<GateReport> {
    const m = await uploadModel(t.call, projectId, brightnessModel(threshold, gain), name);
    const q = await t.call("POST", `/api/v1/models/${m.id}/gate`, { body: {} });
    expect(q.status, JSON.stringify(q.json)).toBe(202);
    return waitForGate(t.call, m.id);
  }

  it("refuses a tie: an identical challenger, and one that differs on 1 of 40 samples", async () => {
    // levels 60, 64, …, 216; defect above 138, except the hard case at 140 (labelled ok)
    const images = Array.from({ length: 40 }, (_, i) => {
      const level = 60 + 4 * i;
      return { level, tag: 0, defect: level > 138 && level !== 140 };
    });
    const projectId = await project("gate-tie", images);
    const first = await gateOf(projectId, between(138), "champion");
    expect(first, first.reason).toMatchObject({ decision: "auto_approved", reasonCode: "approved", championId: null });
    expect(first.evidence).toMatchObject({ metric: "accuracy", samples: 40, difference: null });
    expect(first.evidence!.challenger).toMatchObject({ value: 39 / 40, method: "wilson" });
    expect(first.evidence!.challenger.low).toBeLessThan(0.9);

    // same decisions, another file (another gain)
    const tie = await gateOf(projectId, between(138), "same-again", 150);
    expect(tie.decision, tie.reason).toBe("rejected");
    expect(tie.reasonCode).toBe("tie");
    expect(tie.reason).toMatch(/^refused: no significant improvement/);
    expect(tie.evidence).toMatchObject({
      samples: 40,
      identical: true,
      difference: { value: 0, low: 0, high: 0, method: "paired_bootstrap", resamples: 2000 },
      test: { name: "mcnemar_exact", pValue: 1, challengerOnly: 0, championOnly: 0 },
      power: { neededSamples: null },
    });
    const row = tie.results.find((r) => r.name === "primary_improvement")!;
    expect(row).toMatchObject({ pass: false, hard: true, threshold: 0, champion: 39 / 40, challenger: 39 / 40 });

    // right on the hard case too: 40/40 against 39/40
    const one = await gateOf(projectId, between(141), "one-better");
    expect(one.decision, one.reason).toBe("rejected");
    expect(one.reasonCode).toBe("not_significant");
    expect(one.evidence!.identical).toBe(false);
    expect(one.evidence!.difference!.value).toBeCloseTo(1 / 40, 12);
    expect(one.evidence!.difference!.low).toBeLessThanOrEqual(0);
    expect(one.evidence!.test).toMatchObject({ name: "mcnemar_exact", pValue: 1, challengerOnly: 1, championOnly: 0 });
    // Connor's sample size for 1 disagreement in 40 at 95 % / 80 % power: 312
    expect(one.evidence!.power).toMatchObject({ neededSamples: 312 });
    expect(one.evidence!.power!.note).toMatch(/about 312 paired test samples \(272 more than the 40 here\)/);
    expect(one.reason).toMatch(/about 312 paired test samples/);
    // the model card carries the same evidence
    const card = await t.call<string>("GET", `/api/v1/models/${one.modelVersionId}/card`);
    expect(card.json).toContain("Evidence on 40 test samples (accuracy):");
    expect(card.json).toMatch(
      /- difference challenger − champion 0\.025 \(95 % interval 0\.000 to 0\.075, paired bootstrap\)/,
    );
    expect(card.json).toContain("- mcnemar exact test: p = 1.00");

    // the champion is still the first model
    const champ = await t.call<{ modelVersionId: string }>("GET", `/api/v1/projects/${projectId}/champion`);
    expect(champ.json.modelVersionId).toBe(first.modelVersionId);
  }, 60_000);

  it("approves a clearly better challenger on a big enough test split", async () => {
    // 200 images, levels 20…119 (two per level); defect from level 70 on
    const images = Array.from({ length: 200 }, (_, i) => {
      const level = 20 + Math.floor(i / 2);
      return { level, tag: i % 2, defect: level >= 70 };
    });
    const projectId = await project("gate-better", images);
    // calls levels 54…69 defects: 32 of 200 wrong
    const first = await gateOf(projectId, between(53), "loose");
    expect(first.decision, first.reason).toBe("auto_approved");
    expect(first.evidence!.challenger.value).toBeCloseTo(168 / 200, 12);
    // the champion's evaluation as stored before outcomes were kept: the gate computes it again
    const db = t.hub.store.db;
    const stored = await db
      .selectFrom("evaluations")
      .select(["id", "metrics"])
      .where("model_version_id", "=", first.modelVersionId)
      .executeTakeFirstOrThrow();
    const { outcomes, ...before } = JSON.parse(stored.metrics!) as Record<string, unknown>;
    expect(outcomes).toMatchObject({ kind: "classification" });
    await db
      .updateTable("evaluations")
      .set({ metrics: JSON.stringify(before) })
      .where("id", "=", stored.id)
      .execute();
    const better = await gateOf(projectId, between(69), "exact");
    expect(better.decision, better.reason).toBe("auto_approved");
    expect(better.reasonCode).toBe("approved");
    expect(better.reason).toMatch(/beyond noise \(accuracy \+0\.16, 95 % CI \+0\.\d+ to \+0\.\d+\)/);
    const ev = better.evidence!;
    expect(ev.test).toMatchObject({ name: "mcnemar_exact", challengerOnly: 32, championOnly: 0 });
    // 32 to 0: p = 2 · 2⁻³²
    expect(ev.test!.pValue / 2 ** -31).toBeCloseTo(1, 9);
    expect(ev.difference!.value).toBeCloseTo(0.16, 12);
    expect(ev.difference!.low).toBeGreaterThan(0.08);
    expect(ev.champion).toMatchObject({ value: 168 / 200, method: "wilson" });
    expect(better.results.find((r) => r.name === "test_samples")).toMatchObject({ pass: true, challenger: 200 });
    const champ = await t.call<{ modelVersionId: string }>("GET", `/api/v1/projects/${projectId}/champion`);
    expect(champ.json.modelVersionId).toBe(better.modelVersionId);
    // one evaluation per model and snapshot, with its outcomes again; the API does not return them
    const again = await db.selectFrom("evaluations").selectAll().where("id", "=", stored.id).executeTakeFirstOrThrow();
    expect(again.metrics).toContain('"outcomes"');
    const api = await t.call<{ items: Array<{ metrics: Record<string, unknown> }> }>(
      "GET",
      `/api/v1/models/${first.modelVersionId}/evaluations`,
    );
    expect(api.json.items).toHaveLength(1);
    expect(api.json.items[0]!.metrics).not.toHaveProperty("outcomes");
    expect(api.json.items[0]!.metrics.values).toMatchObject({ accuracy: 168 / 200 });
  }, 60_000);

  it("draws no conclusion from too few test samples: a person decides", async () => {
    const images = Array.from({ length: 12 }, (_, i) => ({ level: 40 + 15 * i, tag: 0, defect: 40 + 15 * i > 120 }));
    const projectId = await project("gate-few", images, { minPrimary: 0.5 });
    await gateOf(projectId, between(80), "loose");
    const r = await gateOf(projectId, between(120), "exact");
    expect(r.decision, r.reason).toBe("awaiting_approval");
    expect(r.reasonCode).toBe("too_few_samples");
    expect(r.results.find((x) => x.name === "test_samples")).toMatchObject({
      pass: false,
      threshold: 30,
      challenger: 12,
    });
  }, 60_000);
});
