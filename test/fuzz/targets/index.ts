import type { FuzzTarget } from "../harness.js";
import { agentRulesTarget } from "./agent-rules.js";
import { archiveReadersTarget, cleanupArchiveFiles } from "./archive-readers.js";
import { bundleManifestTarget } from "./bundle-manifest.js";
import { datasetImportersTarget } from "./dataset-importers.js";
import { imageSniffersTarget } from "./image-sniffers.js";
import { mqttPayloadsTarget } from "./mqtt-payloads.js";

export { cleanupArchiveFiles };

/**
 * Every fuzz target with its share of a long run: cheap, pure parsers get more cases than
 * those that touch the disk (archives) or decode images.
 */
export const fuzzTargets: Array<{ target: FuzzTarget; share: number; fastRuns: number }> = [
  { target: mqttPayloadsTarget, share: 0.3, fastRuns: 5_000 },
  { target: agentRulesTarget, share: 0.15, fastRuns: 2_500 },
  { target: bundleManifestTarget, share: 0.15, fastRuns: 2_500 },
  { target: imageSniffersTarget, share: 0.2, fastRuns: 3_000 },
  { target: datasetImportersTarget, share: 0.1, fastRuns: 2_000 },
  { target: archiveReadersTarget, share: 0.1, fastRuns: 1_200 },
];
