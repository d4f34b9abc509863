import { type ModelManifest, registryRoutes } from "@kensa/contracts";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import type { TestHub } from "./helpers.js";

/** What the site rollout tests share: a 16×16 classifier, its project, fast federation timings. */
export const manifest: ModelManifest = {
  task: "classification",
  input: { name: "images", width: 16, height: 16, channels: 3, layout: "NCHW" },
  preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  labels: ["ok", "defect"],
  okLabels: ["ok"],
  postprocessing: { type: "classification", activation: "none", output: "scores" },
  thresholds: { default: 0.5, perClass: {} },
};

export const project = (slug: string) => ({
  slug,
  name: slug,
  task: "classification" as const,
  labels: ["ok", "defect"],
  okLabels: ["ok"],
});

export const FAST = { intervalSeconds: 0.2, maxBackoffSeconds: 0.4, settleMs: 50, timeoutMs: 2000 };

/** the gates a canary of one device on a synthetic source can show within seconds */
export const GATES = { disabled: ["incident_rate", "false_alarms", "latency", "frame_rate"] as const };

/** uploads a model answering `values` to a central project, approved unless `candidate` */
export async function centralModel(
  central: TestHub,
  projectId: string,
  values: number[],
  candidate = false,
): Promise<string> {
  const form = new FormData();
  form.set("projectId", projectId);
  form.set("manifest", JSON.stringify(manifest));
  const onnx = buildFixedOutputModel({
    input: "images",
    width: 16,
    height: 16,
    outputs: [{ name: "scores", dims: [1, 2], values }],
  });
  form.set("model", new Blob([Buffer.from(onnx)]), "fixed.onnx");
  const model = await central.client.call(registryRoutes.upload, { upload: form });
  if (!candidate) {
    await central.client.call(registryRoutes.approve, {
      params: { id: model.id },
      body: { by: "qa", reason: "fit for the plants", deploy: false },
    });
  }
  return model.id;
}
