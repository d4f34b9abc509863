import { join } from "node:path";
import { createHub, type Hub } from "@kensa/hub";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const ADMIN = "cli-lists-admin-token-0123456789";

describe("kensa list / show, and slugs and names where ids are taken", () => {
  let dir: TempDir;
  let hub: Hub;
  let env: Record<string, string>;
  const ids: Record<string, string> = {};

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
    for (const [slug, name] of [
      ["line-1", "Surface line"],
      ["line-2", "Surface line"],
      ["press", "Press shop"],
    ] as const) {
      const res = await hub.app.inject({
        method: "POST",
        url: "/api/v1/projects",
        headers: { authorization: `Bearer ${ADMIN}` },
        payload: {
          slug,
          name,
          task: "classification",
          labels: ["ok", "defect"],
          okLabels: ["ok"],
          rule: { type: "threshold", labels: [], minScore: 0.5 },
          notifications: { email: [], webhooks: [], cooldownSec: 300 },
        },
      });
      expect(res.statusCode).toBe(201);
      ids[slug] = res.json().id;
    }
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("project list and show: a table by default, the hub's objects with --json; a slug or name finds one", async () => {
    const [table, json, bySlug, byName] = await Promise.all([
      kensa(env, "project", "list"),
      kensa(env, "project", "list", "--json"),
      kensa(env, "project", "show", "press"),
      kensa(env, "project", "show", "press shop", "--json"),
    ]);
    expect(table.status, table.stderr).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^SLUG\s+NAME\s+TASK\s+LABELS\s+ID$/);
    expect(lines).toHaveLength(4);
    expect(table.stdout).toMatch(
      new RegExp(`line-1\\s+Surface line\\s+classification\\s+ok,defect\\s+${ids["line-1"]}`),
    );
    const parsed = JSON.parse(json.stdout) as Array<{ id: string; slug: string }>;
    expect(parsed.map((p) => p.slug).sort()).toEqual(["line-1", "line-2", "press"]);
    expect(bySlug.stdout).toMatch(new RegExp(`id\\s+${ids.press}`));
    expect(JSON.parse(byName.stdout).id).toBe(ids.press);
  }, 60_000);

  it("an ambiguous name lists the candidates; an unknown one says what there is", async () => {
    const [ambiguous, unknown] = await Promise.all([
      kensa(env, "device", "enroll", "--project", "Surface line"),
      kensa(env, "device", "list", "--project", "line-9"),
    ]);
    expect(ambiguous.status).toBe(1);
    expect(ambiguous.stderr).toContain('error KENSA_ERR_REFERENCE_AMBIGUOUS: "Surface line" matches 2 projects');
    expect(ambiguous.stderr).toContain(`line-1 (id ${ids["line-1"]}`);
    expect(ambiguous.stderr).toContain(`line-2 (id ${ids["line-2"]}`);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('error KENSA_ERR_PROJECT_NOT_FOUND: no project with id, slug or name "line-9"');
    expect(unknown.stderr).toContain(`line-1 (${ids["line-1"]})`);
    // nothing was enrolled by the ambiguous call
    const devices = await hub.app.inject({ url: "/api/v1/devices", headers: { authorization: `Bearer ${ADMIN}` } });
    expect(devices.json().items).toEqual([]);
  }, 60_000);

  it("enroll by slug, push a model by slug, deploy by name@version to a device by name; list and show each", async () => {
    const enrolled = await kensa(env, "device", "enroll", "--project", "line-1", "--id", "cam-1", "--name", "cam one");
    expect(enrolled.status, enrolled.stderr).toBe(0);
    expect(enrolled.stdout).toContain("device cam-1 enrolled");

    const prefix = join(dir.path, "blemish");
    expect((await kensa(env, "model", "build-blemish", "--out", prefix)).status).toBe(0);
    const pushed = await kensa(
      env,
      ...["model", "push", `${prefix}.onnx`, "--manifest", `${prefix}.manifest.json`, "--project", "line-1"],
    );
    expect(pushed.status, pushed.stderr).toBe(0);
    const models = JSON.parse((await kensa(env, "model", "list", "--project", "line-1", "--json")).stdout) as Array<{
      id: string;
      name: string;
      version: number;
      projectId: string;
    }>;
    expect(models).toHaveLength(1);
    const model = models[0]!;
    expect(model.projectId).toBe(ids["line-1"]);
    const ref = `${model.name}@${model.version}`;

    // by the project's slug and the version number too
    const bySlug = await kensa(env, "model", "show", `line-1@${model.version}`);
    expect(bySlug.stdout).toContain(`(${model.id}, v${model.version})`);
    const deployed = await kensa(env, "deploy", ref, "--device", "cam one");
    expect(deployed.status, deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/deployment \S+: bundle [0-9a-f]{12} → cam-1/);

    const [devices, devicesJson, shown, deploys, deploysJson, modelTable, modelShow] = await Promise.all([
      kensa(env, "device", "list"),
      kensa(env, "device", "list", "--project", "Press shop", "--json"),
      kensa(env, "device", "show", "cam one"),
      kensa(env, "deploy", "list", "--project", "line-1"),
      kensa(env, "deploy", "list", "--json"),
      kensa(env, "model", "list"),
      kensa(env, "model", "show", ref, "--json"),
    ]);
    expect(devices.stdout).toMatch(/^ID\s+NAME\s+PRESENCE\s+LAST SEEN\s+MODEL\s+TAGS\s+PROJECT\n/);
    expect(devices.stdout).toMatch(new RegExp(`cam-1\\s+cam one\\s+never\\s+–\\s+–\\s+–\\s+${ids["line-1"]}`));
    expect(JSON.parse(devicesJson.stdout)).toEqual([]);
    expect(shown.stdout).toMatch(/presence\s+never/);
    expect(shown.stdout).toMatch(new RegExp(`project\\s+${ids["line-1"]}`));
    const deployment = (JSON.parse(deploysJson.stdout) as Array<{ id: string; modelVersionId: string }>)[0]!;
    expect(deployment.modelVersionId).toBe(model.id);
    expect(deploys.stdout).toMatch(new RegExp(`${deployment.id}\\s+\\d+s ago\\s+${model.id}\\s+default\\s+cam-1`));
    const deployShow = await kensa(env, "deploy", "show", deployment.id);
    expect(deployShow.stdout).toMatch(/devices\s+cam-1/);
    expect(modelTable.stdout).toMatch(new RegExp(`${model.id}\\s+${ref.replace(/[.@]/g, "\\$&")}\\s+candidate`));
    expect(JSON.parse(modelShow.stdout).id).toBe(model.id);
  }, 120_000);

  it("run list / show / cancel: empty list, and a run that does not exist is a coded error", async () => {
    const [empty, emptyJson, missing, cancel] = await Promise.all([
      kensa(env, "run", "list", "--project", "line-1"),
      kensa(env, "run", "list", "--json"),
      kensa(env, "run", "show", "no-such-run"),
      kensa(env, "run", "cancel", "no-such-run"),
    ]);
    expect(empty.stdout.trim()).toBe("no training runs yet (kensa train)");
    expect(JSON.parse(emptyJson.stdout)).toEqual([]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("error KENSA_ERR_RUN_NOT_FOUND");
    expect(cancel.stderr).toContain("error KENSA_ERR_RUN_NOT_FOUND");
  }, 60_000);
});
