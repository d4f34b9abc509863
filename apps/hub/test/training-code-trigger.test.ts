import { execFileSync } from "node:child_process";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AuditPage, TrainingRun, TrainingSettings } from "@kensa/contracts";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../src/people/audit-log.js";
import { reportedRevision, trainerRevision } from "../src/training/code-revision.js";
import { BUILTIN_TRAINER_DIR } from "../src/training/trainer-registry.js";
import { TriggerScheduler } from "../src/training/trigger-scheduler.js";
import { startHub, type TestHub } from "./helpers.js";
import { brightnessModel, SIDE, uploadGrey } from "./registry-gate-models.js";
import { waitForGate, waitForRun } from "./training-fixtures.js";

/**
 * A stand-in for the built-in trainer (run by the hub as `python3 -m kensa_trainer job.json` in
 * `training.trainerDir`) that "trains" by copying a model, and reports its source revision with
 * the real trainer's revision.py, as the real one does.
 */
const FAKE_MAIN = `import json, os, shutil, sys
from .revision import source_revision

job = json.load(open(sys.argv[1]))
src = json.load(open(os.path.join(os.getcwd(), "model-source.json")))
out = job["outputDir"]
os.makedirs(out, exist_ok=True)
def say(**o):
    print(json.dumps({**o, "elapsedSec": 0.1}), flush=True)
say(type="start", jobId=job["jobId"], task=job["task"], epochs=1, stepsPerEpoch=1, totalSteps=1,
    samples={"train": 0, "val": 0, "test": 0}, threads=1, trainer="fake-torch/1 src/" + source_revision()[:12])
shutil.copy(src["onnx"], os.path.join(out, "model.onnx"))
shutil.copy(src["manifest"], os.path.join(out, "manifest.json"))
say(type="done", bestEpoch=1, epochsRun=1, stoppedEarly=False, primaryMetric="accuracy", val=1.0, test=None,
    outputs=["model.onnx", "manifest.json"])
`;

describe("the fourth trigger: a new trainer revision retrains the champion's recipe, once", () => {
  let files: TempDir;
  let t: TestHub;
  let fakeDir: string;
  let triggers: TriggerScheduler;

  beforeAll(async () => {
    files = await tempDir("kensa-code-trigger-");
    fakeDir = join(files.path, "trainer");
    const pkg = join(fakeDir, "kensa_trainer");
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, "__init__.py"), "");
    await writeFile(join(pkg, "__main__.py"), FAKE_MAIN);
    await copyFile(join(BUILTIN_TRAINER_DIR, "kensa_trainer", "revision.py"), join(pkg, "revision.py"));
    const model = brightnessModel(0.5);
    await writeFile(join(files.path, "m.onnx"), model.onnx);
    await writeFile(join(files.path, "m.json"), JSON.stringify(model.manifest));
    await writeFile(
      join(fakeDir, "model-source.json"),
      JSON.stringify({ onnx: join(files.path, "m.onnx"), manifest: join(files.path, "m.json") }),
    );
    t = await startHub({ training: { pollMs: 50, trainerDir: fakeDir } });
    // looks happen when the test says, with the trainer folder the runs use
    await t.hub.training.triggers.stop();
    const db = t.hub.store.db;
    triggers = new TriggerScheduler({
      db,
      settings: t.hub.training.settings,
      runs: t.hub.training.runs,
      queue: t.hub.training.queue,
      log: t.hub.app.log,
      pollMs: 60_000,
      trainerDir: fakeDir,
      audit: new AuditLog(db),
    });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await files?.remove();
  });

  it("hashes the trainer as the trainer itself reports it", async () => {
    const py = execFileSync("python3", ["-c", "from kensa_trainer.revision import source_revision as s; print(s())"], {
      cwd: BUILTIN_TRAINER_DIR,
      encoding: "utf8",
    }).trim();
    expect(await trainerRevision(BUILTIN_TRAINER_DIR)).toBe(py);
    expect(await trainerRevision(files.path)).toBeNull();
    expect(reportedRevision("kensa-torch/1 torch/1.13.0 src/0123456789ab")).toBe("0123456789ab");
    expect(reportedRevision("kensa-torch/1 torch/1.13.0")).toBeNull();
  });

  it("fires when the trainer changed under the champion, with its recipe, audited, and never again for that revision", async () => {
    const p = await t.call<{ id: string }>("POST", "/api/v1/projects", {
      body: {
        slug: "code-trigger",
        name: "code-trigger",
        task: "classification",
        labels: ["ok", "defect"],
        okLabels: ["ok"],
      },
    });
    expect(p.status, JSON.stringify(p.json)).toBe(201);
    const projectId = p.json.id;
    await uploadGrey(
      t.call,
      projectId,
      Array.from({ length: 24 }, (_, i) => ({ level: 40 + 8 * i, tag: 0, defect: 40 + 8 * i > 128 })),
    );
    const snap = await t.call<{ id: string }>("POST", `/api/v1/projects/${projectId}/snapshots`, {
      body: { ratios: { train: 0, val: 0, test: 1 }, by: "qa" },
    });
    const put = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: {
        evaluationSnapshotId: snap.json.id,
        gate: { minPrimary: 0.5 },
        defaults: { input: { width: SIDE, height: SIDE, channels: 3 }, hyper: { epochs: 7, lr: 0.004 }, seed: 9 },
      },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    expect(put.json.triggers.trainerRevision).toBeUndefined();

    // the champion, trained by the trainer as it is now
    const first = await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: { by: "qa" } });
    expect(first.status, JSON.stringify(first.json)).toBe(201);
    const trained = await waitForRun(t.call, first.json.id);
    expect(trained.status, JSON.stringify(trained.error)).toBe("succeeded");
    const r1 = (await trainerRevision(fakeDir))!;
    expect(trained.trainer.version).toBe(`fake-torch/1 src/${r1.slice(0, 12)}`);
    expect((await waitForGate(t.call, trained.modelVersionId!)).decision).toBe("auto_approved");
    expect((await t.hub.training.settings.champion(projectId)).modelVersionId).toBe(trained.modelVersionId);

    const runsOf = async () =>
      (await t.call<{ items: TrainingRun[] }>("GET", `/api/v1/projects/${projectId}/runs`)).json.items;
    const codeRuns = async () => (await runsOf()).filter((r) => r.trigger.type === "code");
    const change = async (note: string) => {
      const main = join(fakeDir, "kensa_trainer", "__main__.py");
      await writeFile(main, `${await readFile(main, "utf8")}# ${note}\n`);
    };

    // off by default: a changed trainer starts nothing
    await change("first change");
    await triggers.tick();
    expect(await codeRuns()).toEqual([]);

    const on = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: { triggers: { trainerRevision: true }, defaults: { hyper: { epochs: 99 }, seed: 1 } },
    });
    expect(on.json.triggers).toMatchObject({ trainerRevision: true, newLabels: null, cron: null });
    const r2 = (await trainerRevision(fakeDir))!;
    expect(r2).not.toBe(r1);
    await triggers.tick();
    const [run] = await waitFor("a code-triggered run", async () => {
      const c = await codeRuns();
      return c.length ? c : null;
    });
    expect(run!.trigger.detail).toBe(
      `trainer src/${r2.slice(0, 12)} (champion ${trained.modelVersionId} trained by src/${r1.slice(0, 12)})`,
    );
    expect(run!.by).toBe("trigger:code");
    // the champion's recipe, not the project's defaults as they are now
    expect(run!.params).toEqual(trained.params);
    expect(run!.params.hyper).toMatchObject({ epochs: 7, lr: 0.004 });
    expect(run!.trainer.name).toBe("builtin");

    const audit = await t.call<AuditPage>("GET", "/api/v1/audit?actor=trigger:code");
    expect(audit.json.items).toHaveLength(1);
    expect(audit.json.items[0]).toMatchObject({ action: "run.create", targetType: "run", targetId: run!.id });

    // while it is queued or running, and after it finished (its model tied with the champion and
    // was refused), the same revision starts nothing more
    await triggers.tick();
    const done = await waitForRun(t.call, run!.id);
    expect(done.status).toBe("succeeded");
    const verdict = await waitForGate(t.call, done.modelVersionId!);
    expect(verdict.decision).not.toBe("auto_approved");
    for (let i = 0; i < 3; i++) await triggers.tick();
    expect(await codeRuns()).toHaveLength(1);

    // a further change is a new revision: one more run
    await change("second change");
    await triggers.tick();
    await waitFor("a second code-triggered run", async () => ((await codeRuns()).length === 2 ? true : null));
    await waitForRun(t.call, (await codeRuns())[0]!.id);
    await triggers.tick();
    expect(await codeRuns()).toHaveLength(2);
  }, 120_000);

  it("leaves a champion alone that the current trainer trained", async () => {
    const p = await t.call<{ id: string }>("POST", "/api/v1/projects", {
      body: {
        slug: "code-same",
        name: "code-same",
        task: "classification",
        labels: ["ok", "defect"],
        okLabels: ["ok"],
      },
    });
    const projectId = p.json.id;
    await uploadGrey(
      t.call,
      projectId,
      Array.from({ length: 20 }, (_, i) => ({ level: 40 + 9 * i, tag: 1, defect: 40 + 9 * i > 128 })),
    );
    await t.call("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: {
        gate: { minPrimary: 0.5 },
        triggers: { trainerRevision: true },
        defaults: { input: { width: SIDE, height: SIDE, channels: 3 } },
      },
    });
    // no champion yet: nothing to retrain
    await triggers.tick();
    const first = await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: { by: "qa" } });
    const trained = await waitForRun(t.call, first.json.id);
    expect((await waitForGate(t.call, trained.modelVersionId!)).decision).toBe("auto_approved");
    for (let i = 0; i < 3; i++) await triggers.tick();
    const runs = (await t.call<{ items: TrainingRun[] }>("GET", `/api/v1/projects/${projectId}/runs`)).json.items;
    expect(runs.map((r) => r.trigger.type)).toEqual(["manual"]);
  }, 60_000);
});
