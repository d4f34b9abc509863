import { KensaError, type ModelManifest, manifestIssues } from "@kensa/contracts";
import { loadModel, type ModelRunner, messageOf, type TensorData } from "./load-model.js";
import type { Postprocessor } from "./postprocess/postprocessor.js";
import { list, mismatch, resolveOutput } from "./postprocess/postprocessor.js";
import { createPostprocessor } from "./postprocess/postprocessors.js";
import { modelInputDims } from "./reference-input.js";

/**
 * Proves that a model and its manifest fit together before anyone deploys them: the manifest
 * is coherent (else KENSA_ERR_MANIFEST_INVALID), the model loads (else
 * KENSA_ERR_MODEL_INVALID_ONNX), has the named input and outputs, accepts one zero image of
 * the manifest's input shape and answers in the shape the task needs — one value per label for
 * classification, [N, labels, H, W] masks, YOLOv8 rows = 4 + labels, … (else
 * KENSA_ERR_MODEL_MANIFEST_MISMATCH saying what differs).
 */
export async function checkModelAgainstManifest(modelBytes: Uint8Array, manifest: ModelManifest): Promise<void> {
  assertCoherent(manifest);
  // one inference on zeros: more threads would cost more to start than they save
  const runner = await loadModel(modelBytes, { intraOpThreads: 1 });
  try {
    const post = bindPostprocessor(runner, manifest);
    const dims = modelInputDims(manifest);
    let out: Record<string, TensorData>;
    try {
      const data = new Float32Array(dims.reduce((a, b) => a * b));
      out = await runner.run({ [manifest.input.name]: { data, dims } }, post.outputs);
    } catch (err) {
      throw mismatch(`the model rejects an input "${manifest.input.name}" of shape [${dims}]: ${messageOf(err)}`);
    }
    post.check(out);
  } finally {
    await runner.release();
  }
}

/** Throws KENSA_ERR_MANIFEST_INVALID for what the schema alone lets through (see manifestIssues). */
export function assertCoherent(manifest: ModelManifest): void {
  const issues = manifestIssues(manifest);
  if (issues.length) {
    const what = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    throw new KensaError("KENSA_ERR_MANIFEST_INVALID", `model manifest is invalid: ${what}`, { issues });
  }
}

/**
 * Checks that the model has exactly the manifest's one input, then binds the manifest's
 * postprocessing to the model's outputs (which checks the output names).
 */
export function bindPostprocessor(runner: ModelRunner, manifest: ModelManifest): Postprocessor {
  checkInput(runner, manifest);
  return createPostprocessor(manifest, runner.outputNames);
}

/**
 * The output a classification manifest reads (its `postprocessing.output`, else the model's
 * first output), after checking that the model has the manifest's input and that output.
 */
export function resolveOutputName(runner: ModelRunner, manifest: ModelManifest): string {
  checkInput(runner, manifest);
  const post = manifest.postprocessing;
  return resolveOutput("output" in post ? post.output : undefined, runner.outputNames);
}

function checkInput(runner: ModelRunner, manifest: ModelManifest): void {
  const inputName = manifest.input.name;
  if (!runner.inputNames.includes(inputName)) {
    throw mismatch(`the manifest's input "${inputName}" is not a model input (${list(runner.inputNames)})`);
  }
  if (runner.inputNames.length > 1) {
    throw mismatch(
      `the model has ${runner.inputNames.length} inputs (${list(runner.inputNames)}); Kensa feeds one image`,
    );
  }
}
