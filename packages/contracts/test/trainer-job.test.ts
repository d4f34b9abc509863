import { describe, expect, it } from "vitest";
import { parseWith, TrainerJob } from "../src/index.js";

const job = (hyper: Record<string, unknown>) => ({
  schema: "kensa.trainer-job/v1",
  jobId: "run_1",
  task: "segmentation",
  labels: ["background", "defect"],
  input: { width: 64, height: 64 },
  hyper,
  outputDir: "/tmp/out",
  samples: [{ id: "s1", path: "/tmp/s1.png", split: "train", classes: [] }],
});

describe("the trainer job's hyper-parameters", () => {
  it("leaves patience out when nobody gave it, so the trainer sizes it to the epochs", () => {
    const parsed = parseWith(TrainerJob, job({ epochs: 40 }));
    expect(parsed.hyper.patience).toBeUndefined();
    // the other defaults are filled in as before
    expect(parsed.hyper.batchSize).toBe(32);
    expect(parseWith(TrainerJob, job({ patience: 3 })).hyper.patience).toBe(3);
    expect(parseWith(TrainerJob, job({ patience: 0 })).hyper.patience).toBe(0);
  });
});
