import type { ModelManifest, ModelVersion } from "@kensa/contracts";
import { GraphBuilder } from "@kensa/vision/graph";
import sharp from "sharp";
import type { ApiCall } from "./helpers.js";

/** side of the test images and of the brightness models' input (no resampling in between) */
export const SIDE = 16;

/**
 * A real ONNX classifier that calls an image "defect" when its mean brightness (0…1) is above
 * `threshold`: GlobalAveragePool → Gemm → Softmax. Two thresholds give two models whose
 * disagreements are exactly the images whose brightness lies between them; `gain` changes the
 * file (and the scores) without changing a decision.
 */
export function brightnessModel(threshold: number, gain = 200): { onnx: Uint8Array; manifest: ModelManifest } {
  const g = new GraphBuilder("brightness");
  const image = g.input("image", ["N", 3, SIDE, SIDE]);
  const flat = g.node("Flatten", [g.node("GlobalAveragePool", [image])], { axis: { int: 1 } });
  const w = gain / 3;
  // row 0 = ok: gain·(threshold − mean); row 1 = defect: gain·(mean − threshold)
  const logits = g.node(
    "Gemm",
    [
      flat,
      g.initializer("w", [2, 3], [-w, -w, -w, w, w, w]),
      g.initializer("b", [2], [gain * threshold, -gain * threshold]),
    ],
    { transB: { int: 1 } },
  );
  g.output(g.node("Softmax", [logits], { axis: { int: 1 } }, "scores"), ["N", 2]);
  return {
    onnx: g.toBytes({ docString: `brightness > ${threshold}` }),
    manifest: {
      task: "classification",
      input: { name: "image", width: SIDE, height: SIDE, channels: 3, layout: "NCHW" },
      preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
      labels: ["ok", "defect"],
      okLabels: ["ok"],
      postprocessing: { type: "classification", activation: "none", output: "scores" },
      thresholds: { default: 0.5, perClass: {} },
    },
  };
}

/**
 * A grey PNG whose mean brightness is `level`/255 (exactly: one pixel is raised by `tag` to make
 * every image's bytes unique, and the mean is returned as the model sees it).
 */
export async function greyImage(level: number, tag: number): Promise<{ png: Buffer; mean: number }> {
  const px = new Uint8Array(SIDE * SIDE * 3).fill(level);
  const extra = Math.min(255 - level, tag);
  px[0] = level + extra;
  const png = await sharp(px, { raw: { width: SIDE, height: SIDE, channels: 3 } })
    .png()
    .toBuffer();
  const mean = (level * SIDE * SIDE * 3 + extra) / (SIDE * SIDE * 3) / 255;
  return { png, mean };
}

/** Uploads labelled grey images (`level` 0…255, `tag` 0…40 tells apart images of one level). */
export async function uploadGrey(
  call: ApiCall,
  projectId: string,
  images: Array<{ level: number; tag: number; defect: boolean }>,
): Promise<void> {
  for (let k = 0; k < images.length; k += 8) {
    await Promise.all(
      images.slice(k, k + 8).map(async (im) => {
        const { png } = await greyImage(im.level, im.tag);
        const r = await call(
          "POST",
          `/api/v1/projects/${projectId}/samples?source=synthetic&classes=${im.defect ? "defect" : "ok"}`,
          {
            raw: png,
            headers: { "content-type": "image/png" },
          },
        );
        if (r.status !== 201) throw new Error(`upload: ${r.status} ${JSON.stringify(r.json)}`);
      }),
    );
  }
}

/** Uploads a model as a candidate. */
export async function uploadModel(
  call: ApiCall,
  projectId: string,
  model: { onnx: Uint8Array; manifest: ModelManifest },
  name: string,
): Promise<ModelVersion> {
  const form = new FormData();
  form.set("projectId", projectId);
  form.set("manifest", JSON.stringify(model.manifest));
  form.set("model", new Blob([model.onnx as BlobPart], { type: "application/octet-stream" }), `${name}.onnx`);
  const r = await call<ModelVersion>("POST", "/api/v1/models", { raw: form });
  if (r.status !== 201) throw new Error(`upload model: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}
