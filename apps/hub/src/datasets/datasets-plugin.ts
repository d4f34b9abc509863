import fp from "fastify-plugin";
import { type DatasetTransferRoutesDeps, datasetTransferRoutes } from "./dataset-transfer-routes.js";
import { type MaskRoutesDeps, maskRoutes } from "./mask-routes.js";
import { type ReferenceRoutesDeps, referenceRoutes } from "./reference-routes.js";
import { type SampleRoutesDeps, sampleRoutes } from "./sample-routes.js";
import { type SnapshotRoutesDeps, snapshotRoutes } from "./snapshot-routes.js";

export type DatasetsPluginOptions = SampleRoutesDeps &
  MaskRoutesDeps &
  SnapshotRoutesDeps &
  DatasetTransferRoutesDeps &
  ReferenceRoutesDeps & {
    /** bytes of one uploaded image or mask */
    mediaBytes: number;
  };

/** Samples and labels, masks, the labeling queue, snapshots, imports and exports. */
export const datasetsPlugin = fp<DatasetsPluginOptions>(
  async (app, opts) => {
    sampleRoutes(app, opts, { mediaBytes: opts.mediaBytes });
    maskRoutes(app, opts, { maxBytes: opts.mediaBytes });
    snapshotRoutes(app, opts);
    datasetTransferRoutes(app, opts);
    referenceRoutes(app, opts, { mediaBytes: opts.mediaBytes });
  },
  { name: "kensa-datasets", dependencies: ["kensa-http"], fastify: "5.x" },
);
