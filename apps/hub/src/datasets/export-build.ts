import { type ArchiveType, type DatasetFormat, KensaError } from "@kensa/contracts";
import type { ArchiveWriter } from "./archive/archive-writer.js";
import { TarWriter } from "./archive/tar-writer.js";
import { ZipWriter } from "./archive/zip-writer.js";
import type { ExportItem } from "./formats/dataset-format.js";
import type { FormatRegistry } from "./formats/format-registry.js";

/** What an export holds, decided on the hub (exports.plan); building it needs only these and the blobs. */
export interface ExportPlan {
  format: DatasetFormat;
  archive: ArchiveType;
  labels: string[];
  okLabels: string[];
  /** `kensa-export.json` without its counts */
  meta: Record<string, unknown>;
  items: ExportItem[];
  filename: string;
  contentType: string;
}

/** every image and mask an export's items name, each once */
export function exportBlobs(items: readonly ExportItem[]): string[] {
  const out = new Set<string>();
  for (const i of items) {
    out.add(i.image.sha256);
    for (const o of i.label.objects) if (o.mask) out.add(o.mask);
  }
  return [...out];
}

export function archiveWriter(archive: ArchiveType | undefined): ArchiveWriter {
  return archive === "tar" ? new TarWriter() : new ZipWriter();
}

/**
 * The bytes of an export's archive, in order: the format's files, then `kensa-export.json`.
 * The hub's streamed export, its export jobs and `kensa worker` all build archives with this, so
 * one plan gives byte-identical archives wherever it is built. `readBlob` answers null for a
 * blob the store lacks (KENSA_ERR_BLOB_NOT_FOUND).
 */
export async function* buildExport(
  plan: Pick<ExportPlan, "format" | "archive" | "labels" | "okLabels" | "meta" | "items">,
  formats: FormatRegistry,
  readBlob: (sha256: string) => Promise<Uint8Array | null>,
): AsyncGenerator<Buffer> {
  const exporter = formats.exporter(plan.format);
  const writer = archiveWriter(plan.archive);
  const skipped: Array<{ sampleId: string; reason: string }> = [];
  const ctx = {
    labels: plan.labels,
    okLabels: plan.okLabels,
    readBlob: async (sha: string) => {
      const b = await readBlob(sha);
      if (!b) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `blob ${sha} is missing from the blob store`);
      return b;
    },
    skip: (sampleId: string, reason: string) => void skipped.push({ sampleId, reason }),
  };
  for await (const f of exporter.files(plan.items, ctx)) yield* writer.add(f.path, f.data);
  const manifest = { ...plan.meta, samples: plan.items.length - skipped.length, skipped };
  yield* writer.add("kensa-export.json", Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  yield* writer.finish();
}
