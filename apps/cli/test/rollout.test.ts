import { join } from "node:path";
import { KensaClient } from "@kensa/client";
import { fleetRoutes, type ModelManifest, projectRoutes, registryRoutes, rolloutRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const ADMIN = "cli-rollout-admin-token-0123456789";

const manifest: ModelManifest = {
  task: "classification",
  input: { name: "images", width: 16, height: 16, channels: 3, layout: "NCHW" },
  preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  labels: ["ok", "defect"],
  okLabels: ["ok"],
  postprocessing: { type: "classification", activation: "none", output: "scores" },
  thresholds: { default: 0.5, perClass: {} },
};

/**
 * `kensa rollout …` against a real hub with three enrolled devices (no agents: a wave deploys
 * to what the hub holds as desired state; its install gate waits for devices that never report,
 * so nothing moves but what the commands do). Versions: surface@1 the champion, surface@2 an
 * approved challenger, surface@3 a candidate.
 */
describe("kensa rollout", () => {
  let dir: TempDir;
  let hub: Hub;
  let env: Record<string, string>;
  let api: KensaClient;
  const run = (...args: string[]) => kensa(env, ...args);

  const upload = async (projectId: string, values: number[], approve: boolean) => {
    const onnx = buildFixedOutputModel({
      input: "images",
      width: 16,
      height: 16,
      outputs: [{ name: "scores", dims: [1, 2], values }],
    });
    const form = new FormData();
    form.set("projectId", projectId);
    form.set("manifest", JSON.stringify(manifest));
    form.set("model", new Blob([Buffer.from(onnx)]), "surface.onnx");
    const v = await api.call(registryRoutes.upload, { upload: form });
    if (approve) {
      await api.call(registryRoutes.approve, {
        params: { id: v.id },
        body: { by: "qe", reason: "fit", deploy: false },
      });
    }
    return v;
  };
  /** the model version each device was last sent on the default pipeline, from the deployments the hub made */
  const lastDeployed = async (deviceId: string) => {
    const { items } = await api.call(fleetRoutes.listDeployments, { query: {} });
    const mine = items
      .filter((d) => d.pipeline === "default" && !d.shadow && d.deviceIds.includes(deviceId))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return mine[0]?.modelVersionId;
  };
  const idOf = (stdout: string) => /^rollout (\S+) /m.exec(stdout)?.[1] ?? "";

  let v1: string;
  let v2: string;
  let v3: string;

  beforeAll(async () => {
    dir = await tempDir();
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      adminToken: ADMIN,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      // the gates are judged twice a second, so `show` has evidence to print (a 1h bake passes nothing)
      rollout: { tickSeconds: 0.5 },
      logLevel: "silent",
    });
    const { httpUrl } = await hub.start();
    env = { KENSA_HUB_URL: httpUrl, KENSA_ADMIN_TOKEN: ADMIN };
    api = new KensaClient({ baseUrl: httpUrl, auth: { kind: "bearer", token: ADMIN } });
    const project = await api.call(projectRoutes.create, {
      body: { slug: "line", name: "Line", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    v1 = (await upload(project.id, [0.95, 0.05], true)).id;
    v2 = (await upload(project.id, [0.97, 0.03], true)).id;
    v3 = (await upload(project.id, [0.6, 0.4], false)).id;
    for (const id of ["cam-1", "cam-2", "cam-3"]) {
      await api.call(fleetRoutes.enroll, { body: { projectId: project.id, id, tags: ["line"] } });
    }
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("creates, lists, shows, pauses, resumes and rolls back; wrong actions are coded errors", async () => {
    const champion = await run("deploy", "surface@1", "--tag", "line");
    expect(champion.status).toBe(0);

    // a candidate may only run in shadow; two ways to size the canary is a flag error, before the hub
    const candidate = await run("rollout", "create", "surface@3", "--tag", "line");
    expect(candidate.status).toBe(1);
    expect(candidate.stderr).toMatch(/^error KENSA_ERR_MODEL_NOT_DEPLOYABLE: model .* is candidate/m);
    const both = await run("rollout", "create", "surface@2", "--canary", "cam-1", "--canary-percent", "5");
    expect(both.status).toBe(1);
    expect(both.stderr).toContain("KENSA_ERR_FLAG_INVALID");
    const badBake = await run("rollout", "create", "surface@2", "--bake", "soon");
    expect(badBake.stderr).toContain("error KENSA_ERR_FLAG_INVALID: --bake must be a duration");

    const created = await run("rollout", "create", "surface@2", "--tag", "line", "--canary", "cam-1", "--bake", "1h");
    expect(created.stderr).toBe("");
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(/^rollout \S+ running: surface@2 replacing surface@1, 2 waves$/m);
    expect(created.stdout).toMatch(/^ {2}wave 1: cam-1 \(baking\)$/m);
    expect(created.stdout).toMatch(/^ {2}wave 2: cam-2, cam-3 \(pending\)$/m);
    const id = idOf(created.stdout);
    const stored = await api.call(rolloutRoutes.getRollout, { params: { id } });
    expect(stored.strategy).toMatchObject({ canaryDeviceIds: ["cam-1"], bakeSeconds: 3600 });
    expect(stored.modelVersionId).toBe(v2);
    expect(await lastDeployed("cam-1")).toBe(v2);
    expect(await lastDeployed("cam-2")).toBe(v1);

    const conflict = await run("rollout", "create", "surface@2", "--tag", "line");
    expect(conflict.status).toBe(1);
    expect(conflict.stderr).toMatch(new RegExp(`^error KENSA_ERR_ROLLOUT_CONFLICT: rollout ${id} \\(running\\)`, "m"));

    const list = await run("rollout", "list", "--project", "line");
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+MODEL → CHAMPION\s+MODE\s+STATE\s+WAVE\s+UPDATED\s+REASON$/m);
    expect(list.stdout).toMatch(
      new RegExp(`^${id}\\s+surface@2 → surface@1\\s+deploy\\s+running\\s+1/2\\s+\\d+s ago\\s+–$`, "m"),
    );
    const pausedOnly = await run("rollout", "list", "--state", "paused");
    expect(pausedOnly.stdout.trim()).toBe("no rollouts (kensa rollout create)");

    // the hub judged the canary: its install gate waits for a device that never reports
    await waitFor("the canary's gates judged", async () => {
      const r = await api.call(rolloutRoutes.getRollout, { params: { id } });
      return r.waves[0]?.evaluatedAt !== null;
    });
    const show = await run("rollout", "show", id);
    expect(show.status).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^rollout ${id} {2}\\(project \\S+\\)$`, "m"));
    expect(show.stdout).toMatch(/^ {2}state\s+RUNNING$/m);
    expect(show.stdout).toMatch(/^ {2}replaces\s+surface@1 \(\S+\)$/m);
    expect(show.stdout).toMatch(/canary cam-1, waves × 2, bake 1h/);
    expect(show.stdout).toMatch(/^ {2}1\s+cam-1\s+baking\s+\S+Z \(\d+s ago\)\s+–$/m);
    expect(show.stdout).toMatch(/^ {2}2\s+cam-2, cam-3\s+pending\s+–\s+–$/m);
    expect(show.stdout).toMatch(/^gates of wave 1 \(judged \d+s ago\)$/m);
    expect(show.stdout).toMatch(
      /^ {2}install\s+waiting\s+0 \(1 device\)\s+–\s+–\s+0\s+0 of 1 devices run the new model/m,
    );
    expect(show.stdout).toMatch(
      /^ {2}incident_rate\s+waiting\s+– \(1 device\)\s+– \(2 devices\)\s+1\s+1\.5\s+incidents /m,
    );
    expect(show.stdout).toMatch(/^ {2}\S+Z\s+planned → running\s+admin-token\s+started$/m);
    const json = JSON.parse((await run("rollout", "show", id, "--json")).stdout);
    expect(json.id).toBe(id);
    expect(json.waves).toHaveLength(2);

    const running = await run("status");
    expect(running.stdout).toMatch(/^rollouts\s+1 running, 0 paused$/m);

    // watch follows it until a person pauses it: exit 3, and the reason
    const watching = run("rollout", "watch", id, "--interval", "1s");
    await new Promise((r) => setTimeout(r, 4000));
    const pause = await run("rollout", "pause", id, "--reason", "line stop");
    expect(pause.status).toBe(0);
    expect(pause.stdout).toMatch(new RegExp(`^rollout ${id}: running → paused \\(line stop\\)$`, "m"));
    const watched = await watching;
    expect(watched.status).toBe(3);
    expect(watched.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${id} running · wave 1/2 baking`, "m"));
    expect(watched.stdout).toMatch(/^ {2}state\s+PAUSED: line stop$/m);
    expect(watched.stderr).toContain(`rollout ${id} paused: line stop`);

    // a paused rollout is shown, never makes the hub degraded
    const status = await run("status");
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/^rollouts\s+0 running, 1 paused \(kensa rollout show <id>\)$/m);
    expect(status.stdout).toMatch(new RegExp(`^\\s+${id} \\(surface@2\\) paused \\d+s ago: line stop$`, "m"));
    const statusJson = JSON.parse((await run("status", "--json")).stdout);
    expect(statusJson.rollouts).toMatchObject({
      running: 0,
      paused: [{ id, model: "surface@2", reason: "line stop" }],
    });

    const again = await run("rollout", "pause", id);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(
      new RegExp(`^error KENSA_ERR_ROLLOUT_STATE: rollout ${id} is paused; this needs it running$`, "m"),
    );

    const resume = await run("rollout", "resume", id);
    expect(resume.status).toBe(0);
    expect(resume.stdout).toMatch(new RegExp(`^rollout ${id}: paused → running \\(resumed\\)$`, "m"));

    const rollback = await run("rollout", "rollback", id, "--reason", "not today");
    expect(rollback.status).toBe(0);
    expect(rollback.stdout).toMatch(new RegExp(`^rollout ${id}: running → rolled_back \\(not today\\)$`, "m"));
    expect(rollback.stdout).toMatch(/^ {2}wave 1\/2: cam-1 rolled_back$/m);
    // the canary was sent back to the champion; the others never left it
    expect(await lastDeployed("cam-1")).toBe(v1);
    expect(await lastDeployed("cam-3")).toBe(v1);

    const ended = await run("rollout", "resume", id);
    expect(ended.status).toBe(1);
    expect(ended.stderr).toMatch(
      /^error KENSA_ERR_ROLLOUT_STATE: .* is rolled_back; this needs it planned or paused$/m,
    );
    const unknown = await run("rollout", "show", "rol_nope");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^error KENSA_ERR_ROLLOUT_NOT_FOUND: /m);
    const watchEnded = await run("rollout", "watch", id);
    expect(watchEnded.status).toBe(3);
  }, 240_000);

  it("watch waits for a planned rollout, follows it through promotions and exits 0 when it completes", async () => {
    const created = await run(
      ...["rollout", "create", "surface@2", "--tag", "line", "--canary", "cam-2", "--factor", "3"],
      ...["--evidence-timeout", "2h", "--min-frames", "50", "--min-verdicts", "4", "--max-false-alarm-ratio", "2"],
      ...["--disable-gate", "latency", "frame_rate", "--no-auto-rollback", "--precision", "fp32", "--planned"],
    );
    expect(created.stderr).toBe("");
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(/^rollout \S+ planned: surface@2 replacing surface@1, 2 waves$/m);
    expect(created.stdout).toContain("start it with: kensa rollout resume");
    const id = idOf(created.stdout);
    expect(await lastDeployed("cam-2")).toBe(v1);
    const planned = await api.call(rolloutRoutes.getRollout, { params: { id } });
    expect(planned).toMatchObject({ state: "planned", precision: "fp32" });
    expect(planned.strategy).toMatchObject({ canaryDeviceIds: ["cam-2"], factor: 3, evidenceTimeoutSeconds: 7200 });
    expect(planned.gates).toMatchObject({
      minFrames: 50,
      minVerdicts: 4,
      maxFalseAlarmRatio: 2,
      autoRollback: false,
      disabled: ["latency", "frame_rate"],
    });
    const shown = (await run("rollout", "show", id)).stdout;
    expect(shown).toMatch(
      /^ {2}gates\s+min 50 frames, 4 verdicts, .*auto-rollback OFF; disabled: latency, frame_rate$/m,
    );
    expect(shown).toMatch(/evidence timeout 2h$/m);

    const watching = run("rollout", "watch", id, "--interval", "1s");
    await new Promise((r) => setTimeout(r, 3000));
    expect((await run("rollout", "resume", id)).status).toBe(0);
    const first = await run("rollout", "promote", id, "--reason", "looks fine");
    expect(first.stdout).toMatch(new RegExp(`^rollout ${id}: running → running \\(looks fine\\)$`, "m"));
    expect(first.stdout).toMatch(/^ {2}wave 2\/2: cam-1, cam-3 baking$/m);
    const last = await run("rollout", "promote", id);
    expect(last.stdout).toMatch(new RegExp(`^rollout ${id}: running → completed `, "m"));

    const watched = await watching;
    expect(watched.stderr).toBe("");
    expect(watched.status).toBe(0);
    expect(watched.stdout).toMatch(new RegExp(`${id} planned · wave 1/2 pending`));
    expect(watched.stdout).toMatch(/^ {2}state\s+COMPLETED$/m);
    for (const d of ["cam-1", "cam-2", "cam-3"]) expect(await lastDeployed(d)).toBe(v2);

    const done = await run("rollout", "list", "--state", "completed", "--json");
    expect(JSON.parse(done.stdout).map((r: { id: string }) => r.id)).toEqual([id]);
  }, 120_000);

  it("deploy --shadow runs a candidate beside what the devices run; completion knows the rollout commands", async () => {
    const shadow = await run("deploy", "surface@3", "--device", "cam-3", "--shadow");
    expect(shadow.stderr).toBe("");
    expect(shadow.status).toBe(0);
    expect(shadow.stdout).toMatch(/^shadow deployment (\S+): bundle [0-9a-f]{12} → cam-3$/m);
    const depId = /^shadow deployment (\S+):/m.exec(shadow.stdout)?.[1];
    const { items } = await api.call(fleetRoutes.listDeployments, { query: {} });
    expect(items.find((d) => d.id === depId)).toMatchObject({ modelVersionId: v3, shadow: true });
    // what cam-3 runs did not change
    expect(await lastDeployed("cam-3")).toBe(v2);

    // a candidate may run as a shadow rollout; a planned one can be aborted before it starts
    const trial = await run("rollout", "create", "surface@3", "--device", "cam-1", "--shadow", "--planned");
    expect(trial.stderr).toBe("");
    expect(trial.stdout).toMatch(/^rollout \S+ planned: surface@3 beside surface@2, 1 wave$/m);
    const trialId = idOf(trial.stdout);
    const abort = await run("rollout", "abort", trialId, "--reason", "not needed", "--json");
    expect(abort.status).toBe(0);
    expect(JSON.parse(abort.stdout)).toMatchObject({
      id: trialId,
      mode: "shadow",
      state: "aborted",
      reason: "not needed",
    });

    const completion = await run("completion", "bash");
    const words = (path: string) =>
      new RegExp(`\\['${path}'\\]='([^']*)'`).exec(completion.stdout)?.[1]?.split(" ") ?? [];
    expect(words("kensa")).toContain("rollout");
    expect(words("kensa rollout")).toEqual(
      expect.arrayContaining(["create", "list", "show", "watch", "pause", "resume", "promote", "rollback", "abort"]),
    );
    expect(words("kensa rollout create")).toEqual(
      expect.arrayContaining(["--canary", "--canary-percent", "--bake", "--disable-gate", "--no-auto-rollback"]),
    );
    expect(words("kensa deploy")).toContain("--shadow");
  }, 60_000);
});
