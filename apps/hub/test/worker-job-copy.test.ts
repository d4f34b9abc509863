import type { TrainerJob } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import type { BlobStore } from "../src/blobstore/blob-store.js";
import { workerJobCopy } from "../src/training/worker-job-copy.js";

const job = {
  task: "segmentation",
  outputDir: "/hub/runs/r1/out",
  samples: [
    { id: "s1", path: "/hub/runs/r1/data/s1.png", maskPath: "/hub/runs/r1/data/s1.mask.png", split: "train" },
    { id: "s2", path: "/hub/runs/r1/data/s2.jpg", split: "val", referenceKey: "b" },
  ],
  reference: { images: { a: "/hub/runs/r1/data/reference-0", b: "/hub/runs/r1/data/reference-1" }, defaultKey: "a" },
} as unknown as TrainerJob;

describe("a worker's copy of a job", () => {
  it("makes every path relative, lists images by hash and masks and references from the run folder", async () => {
    const blobs = { presignGet: async (sha: string) => `https://store/${sha}` } as unknown as BlobStore;
    const { spec, files } = await workerJobCopy(
      job,
      new Map([
        ["s1", "aa"],
        ["s2", "bb"],
      ]),
      blobs,
    );
    expect(spec.outputDir).toBe("out");
    expect(spec.samples.map((s) => [s.path, s.maskPath])).toEqual([
      ["data/s1.png", "data/s1.mask.png"],
      ["data/s2.jpg", undefined],
    ]);
    expect(spec.reference).toEqual({ images: { a: "data/reference-0", b: "data/reference-1" }, defaultKey: "a" });
    expect(files).toEqual([
      { path: "data/s1.png", sha256: "aa", url: "https://store/aa" },
      { path: "data/s1.mask.png", sha256: null, url: null },
      { path: "data/s2.jpg", sha256: "bb", url: "https://store/bb" },
      { path: "data/reference-0", sha256: null, url: null },
      { path: "data/reference-1", sha256: null, url: null },
    ]);
    // the hub's own spec keeps its absolute paths
    expect(job.reference?.images.a).toBe("/hub/runs/r1/data/reference-0");
  });

  it("leaves a job without references without one, and hands out no URL when the store cannot presign", async () => {
    const { spec, files } = await workerJobCopy(
      { ...job, reference: undefined },
      new Map([["s1", "aa"]]),
      {} as BlobStore,
    );
    expect(spec.reference).toBeUndefined();
    expect(files[0]).toEqual({ path: "data/s1.png", sha256: "aa", url: null });
    expect(files[2]).toEqual({ path: "data/s2.jpg", sha256: null, url: null });
  });
});
