import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import type { ProjectService } from "../projects/project-service.js";
import { ExportJobs } from "./export-jobs.js";
import { ExportService } from "./export-service.js";
import { defaultFormats, type FormatRegistry } from "./formats/format-registry.js";
import { ImportService, type ImportServiceOptions } from "./import-service.js";
import { ReferenceService } from "./reference-service.js";
import { SampleService } from "./sample-service.js";
import { SnapshotService } from "./snapshot-service.js";

/** The datasets capability: samples and labels, snapshots, imports and exports. */
export interface Datasets {
  samples: SampleService;
  snapshots: SnapshotService;
  imports: ImportService;
  exports: ExportService;
  /** exports queued as jobs (built here or on workers) */
  exportJobs: ExportJobs;
  formats: FormatRegistry;
  /** golden references of reference-image inspection */
  references: ReferenceService;
}

export function createDatasets(deps: {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  projects: ProjectService;
  imports: ImportServiceOptions;
  log: FastifyBaseLogger;
  formats?: FormatRegistry;
}): Datasets {
  const formats = deps.formats ?? defaultFormats();
  const samples = new SampleService(deps.db, deps.blobs, deps.projects);
  const snapshots = new SnapshotService(deps.db, deps.blobs, deps.projects);
  const imports = new ImportService(deps.db, deps.blobs, deps.projects, formats, deps.imports, deps.log);
  const exports = new ExportService(deps.db, deps.blobs, deps.projects, snapshots, formats);
  const exportJobs = new ExportJobs({ db: deps.db, blobs: deps.blobs, exports, formats, log: deps.log });
  const references = new ReferenceService(deps.db, deps.blobs, deps.projects);
  return { samples, snapshots, imports, exports, exportJobs, formats, references };
}
