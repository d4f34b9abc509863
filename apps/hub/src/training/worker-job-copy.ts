import { basename } from "node:path";
import type { TrainerJob, WorkerJob } from "@kensa/contracts";
import type { BlobStore } from "../blobstore/blob-store.js";

/** s a presigned image URL stays valid: long enough for a slow link to fetch every image */
const PRESIGN_TTL_SEC = 3600;

/**
 * A worker's copy of a job materialized on the hub: the same spec with every path relative to
 * the worker's job folder, and the files it fetches — images from the blob store (presigned
 * when the store can), masks and golden references from the run's data folder. The hub's own
 * spec is left as it is.
 */
export async function workerJobCopy(
  job: TrainerJob,
  imageSha: ReadonlyMap<string, string>,
  blobs: BlobStore,
): Promise<Pick<WorkerJob, "spec" | "files">> {
  const files: WorkerJob["files"] = [];
  const rel = (abs: string) => `data/${basename(abs)}`;
  const samples = [];
  for (const s of job.samples) {
    const sha = imageSha.get(s.id) ?? null;
    const url = sha && blobs.presignGet ? await blobs.presignGet(sha, PRESIGN_TTL_SEC) : null;
    files.push({ path: rel(s.path), sha256: sha, url });
    if (s.maskPath) files.push({ path: rel(s.maskPath), sha256: null, url: null });
    samples.push({ ...s, path: rel(s.path), ...(s.maskPath ? { maskPath: rel(s.maskPath) } : {}) });
  }
  let reference = job.reference;
  if (reference) {
    const images: Record<string, string> = {};
    for (const [key, path] of Object.entries(reference.images)) {
      images[key] = rel(path);
      files.push({ path: rel(path), sha256: null, url: null });
    }
    reference = { ...reference, images };
  }
  return { spec: { ...job, outputDir: "out", samples, ...(reference ? { reference } : {}) }, files };
}
