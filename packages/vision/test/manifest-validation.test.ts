import { type KensaError, ModelManifest, parseManifest } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { buildYoloV8Model } from "../src/graph/index.js";
import { checkModelAgainstManifest, Inferencer } from "../src/index.js";

const base = {
  input: { name: "images", width: 64, height: 64 },
  preprocessing: {},
  labels: ["ok", "defect"],
  okLabels: ["ok"],
  thresholds: {},
};

function issuesOf(raw: unknown): { path: string; message: string }[] {
  try {
    parseManifest(raw);
  } catch (err) {
    expect(err).toMatchObject({ code: "KENSA_ERR_MANIFEST_INVALID" });
    return ((err as KensaError).details as { issues: { path: string; message: string }[] }).issues;
  }
  throw new Error("the manifest was accepted");
}

describe("parseManifest", () => {
  it("applies each task's defaults", () => {
    const det = parseManifest({ ...base, task: "detection", postprocessing: { type: "detection", layout: "yolov8" } });
    expect(det.postprocessing).toEqual({
      type: "detection",
      layout: "yolov8",
      outputs: { boxes: "boxes", scores: "scores", labels: "labels" },
      boxFormat: "xyxy",
      coordinates: "pixels",
      activation: "none",
      minScore: 0.25,
      iou: 0.45,
      maxDetections: 100,
    });
    const seg = parseManifest({ ...base, task: "segmentation", postprocessing: { type: "segmentation" } });
    expect(seg.postprocessing).toMatchObject({
      activation: "softmax",
      maskThreshold: 0.5,
      minArea: 0,
      maxRegions: 100,
    });
    const an = parseManifest({ ...base, task: "anomaly", postprocessing: { type: "anomaly" } });
    expect(an.postprocessing).toMatchObject({ scoreReduce: "max", topK: 100, activation: "none" });
    expect(Object.isFrozen(an.postprocessing)).toBe(true);
    // classification manifests are as they were
    const cls = parseManifest({ ...base, task: "classification", postprocessing: { type: "classification" } });
    expect(cls.postprocessing).toEqual({ type: "classification", activation: "softmax" });
  });

  it("points into the postprocessing of the declared type", () => {
    expect(issuesOf({ ...base, task: "detection", postprocessing: { type: "detection" } })).toContainEqual(
      expect.objectContaining({ path: "/postprocessing/layout" }),
    );
    expect(
      issuesOf({ ...base, task: "detection", postprocessing: { type: "detection", layout: "yolov9" } }),
    ).toContainEqual(expect.objectContaining({ path: "/postprocessing/layout" }));
    expect(
      issuesOf({ ...base, task: "detection", postprocessing: { type: "detection", layout: "yolov8", iou: 1.5 } }),
    ).toContainEqual(expect.objectContaining({ path: "/postprocessing/iou" }));
    expect(
      issuesOf({ ...base, task: "segmentation", postprocessing: { type: "segmentation", minArea: -1 } }),
    ).toContainEqual(expect.objectContaining({ path: "/postprocessing/minArea" }));
    expect(
      issuesOf({ ...base, task: "anomaly", postprocessing: { type: "anomaly", scoreReduce: "mean" } }),
    ).toContainEqual(expect.objectContaining({ path: "/postprocessing/scoreReduce" }));
    // unknown keys are rejected, per type
    expect(issuesOf({ ...base, task: "anomaly", postprocessing: { type: "anomaly", threshold: 0.3 } })).toContainEqual(
      expect.objectContaining({ path: "/postprocessing/threshold" }),
    );
    expect(issuesOf({ ...base, task: "detection", postprocessing: { type: "keypoints" } })).toEqual([
      { path: "/postprocessing/type", message: "expected one of classification, segmentation, detection, anomaly" },
    ]);
    // other errors are reported beside
    expect(
      issuesOf({ ...base, labels: [], task: "detection", postprocessing: { type: "detection" } }).map((i) => i.path),
    ).toEqual(expect.arrayContaining(["/labels", "/postprocessing/layout"]));
  });

  it("rejects what the schema alone lets through", () => {
    expect(issuesOf({ ...base, task: "detection", postprocessing: { type: "segmentation" } })).toEqual([
      { path: "/postprocessing/type", message: 'must be the task "detection", not "segmentation"' },
    ]);
    expect(
      issuesOf({ ...base, okLabels: ["ok", "defect"], task: "anomaly", postprocessing: { type: "anomaly" } }),
    ).toEqual([{ path: "/okLabels", message: "a anomaly model needs at least one label that is not OK" }]);
    expect(
      issuesOf({ ...base, task: "anomaly", postprocessing: { type: "anomaly", normalize: { min: 2, max: 2 } } }),
    ).toEqual([{ path: "/postprocessing/normalize", message: "max must be greater than min" }]);
  });

  it("is what the ModelManifest schema accepts, plus coherence", async () => {
    // a schema-valid but incoherent manifest still fails where models are loaded
    const incoherent: ModelManifest = {
      ...base,
      input: { ...base.input, channels: 3, layout: "NCHW" },
      preprocessing: { resize: "letterbox", scale: 1 / 255, mean: [0], std: [1] },
      task: "detection",
      postprocessing: { type: "classification", activation: "none" },
      thresholds: { default: 0.5, perClass: {} },
    };
    const onnx = buildYoloV8Model({
      width: 64,
      height: 64,
      candidates: [{ cx: 1, cy: 1, w: 1, h: 1, scores: [1, 0] }],
    });
    await expect(checkModelAgainstManifest(onnx, incoherent)).rejects.toMatchObject({
      code: "KENSA_ERR_MANIFEST_INVALID",
    });
    await expect(Inferencer.create(onnx, incoherent)).rejects.toMatchObject({ code: "KENSA_ERR_MANIFEST_INVALID" });
    expect(ModelManifest).toBeDefined();
  });
});
