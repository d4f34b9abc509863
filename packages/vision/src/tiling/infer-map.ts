import type { ModelManifest } from "@kensa/contracts";
import type { ModelRunner, TensorData } from "../load-model.js";
import { preprocess } from "../preprocess.js";
import { withReference } from "../reference-input.js";
import type { ResizeTransform } from "../resize-transform.js";
import { TileRunner } from "./tile-runner.js";
import { stitchOutputs, tileFrame } from "./tiled-inference.js";

/** One output map of a frame as the deployed path computes it, whole or tiled. */
export interface FrameMap {
  map: TensorData;
  /** original px → px of the input the map's geometry refers to (inputWidth × inputHeight) */
  transform: ResizeTransform;
  inputWidth: number;
  inputHeight: number;
  /** the tensor(s) the model was fed (input statistics) */
  data: Float32Array;
}

/**
 * A frame's raw map output (segmentation scores, anomaly map) for evaluators that score pixels
 * rather than regions: the whole frame preprocessed and run once, or, with the manifest's
 * `tiling`, its tiles run and stitched exactly as the Inferencer does. Pass the same `tiles`
 * runner for every frame of a model.
 */
export async function inferMap(
  runner: ModelRunner,
  manifest: ModelManifest,
  image: Uint8Array,
  output: string,
  tiles?: TileRunner,
  referenceKey?: string,
): Promise<FrameMap> {
  if (manifest.tiling) {
    const frame = await tileFrame(image, manifest, manifest.tiling);
    const outputs = await (tiles ?? new TileRunner(runner, manifest, [output])).run(frame);
    const st = stitchOutputs(frame, outputs, output, manifest);
    return {
      map: st.map,
      transform: st.transform,
      inputWidth: st.inputWidth,
      inputHeight: st.inputHeight,
      data: frame.data,
    };
  }
  // reference-image inspection: the stacked frame, reference and difference (reference-input.ts)
  const pre = await withReference(
    await preprocess(image, manifest.input, manifest.preprocessing),
    manifest,
    referenceKey,
  );
  const out = await runner.run({ [manifest.input.name]: { data: pre.data, dims: pre.dims } }, [output]);
  return {
    map: out[output]!,
    transform: pre.transform,
    inputWidth: manifest.input.width,
    inputHeight: manifest.input.height,
    data: pre.data,
  };
}
