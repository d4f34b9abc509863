import { join } from "node:path";
import { KensaClient } from "@kensa/client";
import { fleetRoutes, trainingRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { pushBlemishModel } from "@kensa/scenario/models";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const ADMIN = "approve-deploy-admin-token-0123456789";

describe("model approve says what became of the deployment; projects get an auto-deploy target", () => {
  let dir: TempDir;
  let hub: Hub;
  let env: Record<string, string>;
  let client: KensaClient;

  beforeAll(async () => {
    dir = await tempDir();
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      adminToken: ADMIN,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      logLevel: "silent",
    });
    const { httpUrl } = await hub.start();
    env = { KENSA_HUB_URL: httpUrl, KENSA_ADMIN_TOKEN: ADMIN };
    client = new KensaClient({ baseUrl: httpUrl, auth: { kind: "bearer", token: ADMIN } });
  });
  afterAll(async () => {
    await hub.close();
    await dir.remove();
  });

  const create = (slug: string, ...more: string[]) =>
    kensa(
      env,
      "project",
      "create",
      "--slug",
      slug,
      "--name",
      slug,
      "--task",
      "classification",
      "--labels",
      "ok,defect",
      "--ok-labels",
      "ok",
      ...more,
    );

  it("without a target: approve says it deployed nothing and how to deploy; update sets a target; approve deploys", async () => {
    const created = await create("line-a");
    expect(created.status).toBe(0);
    const project = JSON.parse(created.stdout) as { id: string };
    expect(created.stderr).toContain("auto-deploy target: none");

    const first = await pushBlemishModel(client, project.id);
    const a1 = await kensa(env, "model", "approve", first.id, "--reason", "first");
    expect(a1.status).toBe(0);
    expect(a1.stdout).toContain("and the champion");
    expect(a1.stdout).toContain("not deployed: the project has no auto-deploy target");
    expect(a1.stdout).toContain(`kensa deploy ${first.id} --tag <tag>`);
    expect(a1.stdout).toContain(`kensa project update ${project.id} --auto-deploy-tag <tag>`);

    const none = await kensa(env, "project", "update", "line-a");
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("KENSA_ERR_FLAG_INVALID");

    const up = await kensa(env, "project", "update", "line-a", "--auto-deploy-tag", "line-a");
    expect(up.status).toBe(0);
    expect(up.stdout).toContain("auto-deploy target tags line-a (pipeline default)");
    const settings = await client.call(trainingRoutes.settings, { params: { id: project.id } });
    expect(settings.autoDeploy).toEqual({ tags: ["line-a"], deviceIds: [], pipeline: "default" });

    await client.call(fleetRoutes.enroll, { body: { projectId: project.id, id: "cam-a", tags: ["line-a"] } });
    const second = await pushBlemishModel(client, project.id, { fileName: "second.onnx" });
    const a2 = await kensa(env, "model", "approve", second.id, "--reason", "second");
    expect(a2.status).toBe(0);
    expect(a2.stdout).toMatch(/deployed to tag line-a: deployment \S+ → cam-a/);

    const third = await pushBlemishModel(client, project.id, { fileName: "third.onnx" });
    const a3 = await kensa(env, "model", "approve", third.id, "--reason", "third", "--no-deploy");
    expect(a3.stdout).toContain("not deployed (--no-deploy)");

    const off = await kensa(env, "project", "update", "line-a", "--no-auto-deploy");
    expect(off.stdout).toContain("auto-deploy target none");
    expect((await client.call(trainingRoutes.settings, { params: { id: project.id } })).autoDeploy).toBeNull();
  }, 120_000);

  it("project create --auto-deploy-tag stores the target", async () => {
    const created = await create("line-b", "--auto-deploy-tag", "line-b", "east", "--auto-deploy-pipeline", "main");
    expect(created.status).toBe(0);
    expect(created.stderr).toContain("auto-deploy target: tags line-b, east (pipeline main)");
    const project = JSON.parse(created.stdout) as { id: string };
    const settings = await client.call(trainingRoutes.settings, { params: { id: project.id } });
    expect(settings.autoDeploy).toEqual({ tags: ["line-b", "east"], deviceIds: [], pipeline: "main" });
  }, 60_000);
});
