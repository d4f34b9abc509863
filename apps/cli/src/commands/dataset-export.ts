import { createWriteStream } from "node:fs";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { KensaClient } from "@kensa/client";
import { type DatasetExport, type DatasetFormat, datasetRoutes, KensaError, type SplitName } from "@kensa/contracts";
import { ProgressBar } from "./progress-bar.js";

export interface ExportFlags {
  project: string;
  format: string;
  snapshot?: string;
  split?: string;
  out: string;
  /** queue the export as a job (built by the hub's job worker or a `kensa worker`), wait for it, then download */
  queue?: boolean;
}

/** ms between looks at a queued export */
const POLL_MS = 500;

/**
 * `kensa dataset export`: streams the archive the hub builds for the request, or with `--queue`
 * queues the export as a job, waits for it (a worker may build it) and downloads the stored
 * archive; the bytes are the same either way.
 */
export async function exportDataset(client: KensaClient, o: ExportFlags): Promise<void> {
  const archive = o.out.toLowerCase().endsWith(".tar") ? "tar" : "zip";
  const query = {
    format: o.format as DatasetFormat,
    archive,
    ...(o.snapshot ? { snapshot: o.snapshot } : {}),
    ...(o.split ? { split: o.split as SplitName } : {}),
  } as const;
  let res: Response;
  if (o.queue) {
    let exp = await client.call(datasetRoutes.startExport, { params: { id: o.project }, body: query });
    console.log(`export ${exp.id} queued`);
    exp = await waitForExport(client, exp);
    if (exp.status !== "succeeded") {
      const code = exp.error?.code ?? "KENSA_ERR_EXPORT_NOT_READY";
      throw new KensaError(code as never, `export ${exp.id} ${exp.status}: ${exp.error?.message ?? "no archive"}`);
    }
    res = await client.fetch(datasetRoutes.downloadExport, { params: { id: exp.id } });
  } else {
    res = await client.fetch(datasetRoutes.export, { params: { id: o.project }, query });
  }
  const bar = new ProgressBar("export ", "bytes");
  let got = 0;
  await pipeline(
    Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>),
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        got += chunk.length;
        bar.update(got);
        cb(null, chunk);
      },
    }),
    createWriteStream(o.out),
  );
  bar.done();
  console.log(`wrote ${o.out} (${(got / 1e6).toFixed(1)} MB, ${o.format} in ${archive})`);
}

async function waitForExport(client: KensaClient, exp: DatasetExport): Promise<DatasetExport> {
  let last = exp.status;
  while (exp.status === "queued" || exp.status === "running") {
    await new Promise((r) => setTimeout(r, POLL_MS));
    exp = await client.call(datasetRoutes.getExport, { params: { id: exp.id } });
    if (exp.status !== last) console.log(`export ${exp.id} ${exp.status}`);
    last = exp.status;
  }
  return exp;
}
