import { ImportOptions, parseManifest, parseWith, withProjectRule } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { cocoImporter } from "../../apps/hub/src/datasets/formats/coco-format.js";
import { rleDecode } from "../../apps/hub/src/datasets/formats/coco-rle.js";
import { memoryEntry } from "./targets/dataset-importers.js";

/* Counterexamples the fuzz targets found, kept as plain tests. */

describe("fuzz regressions", () => {
  it("COCO: a null in images, annotations or categories fails the file with a code, not a TypeError", async () => {
    const image = memoryEntry("images/a.jpg", new Uint8Array([0xff, 0xd8, 0xff]));
    const options = parseWith(ImportOptions, { format: "coco" });
    for (const doc of [
      { images: [null], annotations: [], categories: [] },
      { images: [{ id: 1, file_name: "a.jpg" }], annotations: [null], categories: [{ id: 1, name: "x" }] },
      { images: [{ id: 1, file_name: "a.jpg" }], annotations: [], categories: [7] },
      { images: [{ id: 1, file_name: "a.jpg" }], annotations: { 0: {} }, categories: [] },
    ]) {
      const json = memoryEntry("annotations.json", new TextEncoder().encode(JSON.stringify(doc)));
      const plan = await cocoImporter.plan([image, json], { options, labels: ["x"], okLabels: [] });
      expect(plan.items).toEqual([]);
      expect(plan.failed.map((f) => [f.item, f.code])).toEqual([
        ["annotations.json", "KENSA_ERR_DATASET_ANNOTATION_INVALID"],
      ]);
    }
  });

  it("a project's incident rule over a model with more than 256 finding labels ships a manifest the agent accepts", () => {
    const labels = ["ok", ...Array.from({ length: 300 }, (_, i) => `defect-${i}`)];
    const manifest = parseManifest({
      task: "classification",
      input: { name: "input", width: 8, height: 8 },
      preprocessing: {},
      labels,
      okLabels: ["ok"],
      postprocessing: { type: "classification" },
      thresholds: { default: 0.5 },
    });
    const shipped = withProjectRule(manifest, { type: "threshold", labels: [], minScore: 0.5 }, { okLabels: ["ok"] });
    const parsed = parseManifest(JSON.parse(JSON.stringify(shipped)));
    // no list: the rule watches every label that is not OK, all 300 of them
    expect(parsed.rules?.[0]).toMatchObject({ id: "project-rule", type: "threshold", minScore: 0.5 });
    expect(parsed.rules?.[0]).not.toHaveProperty("labels");
    const few = withProjectRule(
      manifest,
      { type: "threshold", labels: ["defect-1", "defect-2"], minScore: 0.5 },
      { okLabels: ["ok"] },
    );
    expect(few.rules?.[0]).toMatchObject({ labels: ["defect-1", "defect-2"] });
  });

  it("COCO RLE: a size other than the image's is refused before 900 MB are allocated", () => {
    const before = process.memoryUsage().arrayBuffers;
    expect(() => rleDecode({ size: [30_000, 30_000], counts: [900_000_000] }, { width: 64, height: 48 })).toThrow(
      "the RLE mask is 30000×30000, the image 64×48",
    );
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20);
    // sizes that are no pixel counts, and counts that are no run lengths
    expect(() => rleDecode({ size: [0.5, 2], counts: [1] })).toThrow("whole pixels");
    expect(() => rleDecode({ size: [-1, 5], counts: [1] })).toThrow("whole pixels");
    expect(() => rleDecode({ size: [2, 2], counts: [1.5, 2.5] })).toThrow("exceed");
    // the image's own size still decodes
    expect(rleDecode({ size: [2, 2], counts: [1, 2, 1] }, { width: 2, height: 2 }).data).toEqual(
      Uint8Array.from([0, 255, 255, 0]),
    );
  });
});
