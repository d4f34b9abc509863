import type { ClassificationPost } from "@kensa/contracts";
import { classify } from "../classify.js";
import { mismatch, type PostprocessorFactory, resolveOutput, shape, tensorOf } from "./postprocessor.js";

export const classificationPostprocessor: PostprocessorFactory<ClassificationPost> = (post, manifest, modelOutputs) => {
  const name = resolveOutput(post.output, modelOutputs);
  return {
    outputs: [name],
    check: (outputs) => {
      const t = tensorOf(outputs, name);
      if (t.data.length !== manifest.labels.length) {
        throw mismatch(
          `output "${name}" has ${t.data.length} values per image (shape ${shape(t)}) ` +
            `but the manifest has ${manifest.labels.length} labels`,
        );
      }
    },
    run: (outputs) => classify(tensorOf(outputs, name).data, manifest),
  };
};
