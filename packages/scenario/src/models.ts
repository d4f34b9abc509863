import type { KensaClient } from "@kensa/client";
import { type ModelManifest, type ModelVersion, registryRoutes } from "@kensa/contracts";
import { type BlemishModelOptions, buildBlemishModel } from "@kensa/vision/graph";

/** Uploads an ONNX model and its manifest to a project as a candidate version. */
export function uploadModel(
  client: KensaClient,
  projectId: string,
  model: { onnx: Uint8Array; manifest: ModelManifest },
  fileName = "model.onnx",
): Promise<ModelVersion> {
  const form = new FormData();
  form.set("projectId", projectId);
  form.set("manifest", JSON.stringify(model.manifest));
  form.set("model", new Blob([model.onnx as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }), fileName);
  return client.call(registryRoutes.upload, { upload: form });
}

/**
 * Builds Kensa's hand-built blemish model (a real ONNX CNN, no training needed) and uploads it to
 * the project as a candidate; `fileName` names the version (`blemish` for `blemish.onnx`).
 */
export function pushBlemishModel(
  client: KensaClient,
  projectId: string,
  opts: BlemishModelOptions & { fileName?: string } = {},
): Promise<ModelVersion> {
  const { fileName = "blemish.onnx", ...model } = opts;
  return uploadModel(client, projectId, buildBlemishModel(model), fileName);
}
