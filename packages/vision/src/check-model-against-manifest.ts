import { KensaError, type ModelManifest } from "@kensa/contracts";
import { loadModel, type ModelRunner, messageOf } from "./load-model.js";
import { inputDims } from "./preprocess.js";

/**
 * Proves that a model and its manifest fit together before anyone deploys them: the model
 * loads (else KENSA_ERR_MODEL_INVALID_ONNX), has the named input and output, accepts one
 * zero image of the manifest's input shape and answers with exactly one value per label
 * (else KENSA_ERR_MODEL_MANIFEST_MISMATCH saying what differs).
 */
export async function checkModelAgainstManifest(modelBytes: Uint8Array, manifest: ModelManifest): Promise<void> {
  // one inference on zeros: more threads would cost more to start than they save
  const runner = await loadModel(modelBytes, { intraOpThreads: 1 });
  try {
    const outputName = resolveOutputName(runner, manifest);
    const dims = inputDims(manifest.input);
    let out: Awaited<ReturnType<ModelRunner["run"]>>;
    try {
      out = await runner.run({ [manifest.input.name]: { data: new Float32Array(dims.reduce((a, b) => a * b)), dims } });
    } catch (err) {
      throw mismatch(`the model rejects an input "${manifest.input.name}" of shape [${dims}]: ${messageOf(err)}`);
    }
    const t = out[outputName];
    if (!t) throw mismatch(`the model produced no output "${outputName}"`);
    if (t.data.length !== manifest.labels.length) {
      throw mismatch(
        `output "${outputName}" has ${t.data.length} values per image (shape [${t.dims}]) ` +
          `but the manifest has ${manifest.labels.length} labels`,
      );
    }
  } finally {
    await runner.release();
  }
}

/**
 * The output the manifest reads (its `postprocessing.output`, else the model's first output),
 * after checking that the model has the manifest's input and that output.
 */
export function resolveOutputName(runner: ModelRunner, manifest: ModelManifest): string {
  const inputName = manifest.input.name;
  if (!runner.inputNames.includes(inputName)) {
    throw mismatch(`the manifest's input "${inputName}" is not a model input (${list(runner.inputNames)})`);
  }
  if (runner.inputNames.length > 1) {
    throw mismatch(
      `the model has ${runner.inputNames.length} inputs (${list(runner.inputNames)}); Kensa feeds one image`,
    );
  }
  const outputName = manifest.postprocessing.output ?? runner.outputNames[0];
  if (outputName === undefined || !runner.outputNames.includes(outputName)) {
    throw mismatch(`the manifest's output "${outputName}" is not a model output (${list(runner.outputNames)})`);
  }
  return outputName;
}

function list(names: readonly string[]): string {
  return names.length ? names.map((n) => `"${n}"`).join(", ") : "none";
}

function mismatch(what: string): KensaError {
  return new KensaError("KENSA_ERR_MODEL_MANIFEST_MISMATCH", `The model does not match its manifest: ${what}`);
}
