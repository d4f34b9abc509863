import { join } from "node:path";
import {
  federationRoutes,
  fleetRoutes,
  projectRoutes,
  rolloutRoutes,
  type SiteRollout,
  type SiteRolloutCommand,
} from "@kensa/contracts";
import { type AgentProcess, spawnAgent, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "../../cli/test/run-kensa.js";
import { createUser } from "./auth-fixtures.js";
import { UplinkProxy } from "./federation-fixtures.js";
import { centralModel, FAST, GATES, project } from "./federation-rollout-fixtures.js";
import { backends, startHub, type TestHub } from "./helpers.js";

const list = await backends("federation-rollout-commands");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

type Reply<T> = { status: number; json: T & { error: { code: string; message: string } } };

/**
 * Pause, resume and rollback sent from central to a site rollout: two real hubs, the site behind
 * a proxy the test cuts, a real agent on the site's canary device. A rollback from central sends
 * the device back to the champion; commands queued during a cut apply in order, once, when the
 * uplink is back; a command the site cannot apply comes back refused with the site's code.
 */
describe.each(list)("site rollout commands from central (both hubs on $name)", (backend) => {
  let central: TestHub;
  let site: TestHub;
  let proxy: UplinkProxy;
  let agent: AgentProcess | undefined;
  let paintId: string;
  /** the site's copy of the version the canary ran before the rollouts under test */
  let champion: string;

  const siteRollout = async (id: string) =>
    (await central.client.call(federationRoutes.listSiteRollouts, { params: { id: "plant-r" } })).items.find(
      (r) => r.id === id,
    )!;
  const command = (rolloutId: string, action: string, body: Record<string, unknown> = {}, call = central.call) =>
    call<SiteRolloutCommand>("POST", `/api/v1/sites/plant-r/rollouts/${rolloutId}/${action}`, { body }) as Promise<
      Reply<SiteRolloutCommand>
    >;
  /** the model version the canary reports loaded in its default pipeline */
  const runs = async () => {
    const p = (await site.client.call(fleetRoutes.get, { params: { id: "canary-cam" } })).reported?.pipelines.find(
      (x) => x.id === "default",
    );
    return p?.status === "loaded" ? (p.bundle?.modelVersionId ?? null) : null;
  };
  const until = (what: string, id: string, ok: (r: SiteRollout) => boolean) =>
    waitFor(
      what,
      async () => {
        const r = await siteRollout(id);
        return ok(r) ? r : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 100 },
    );
  /** asks the site to roll `values` out to the canary; waits until the canary runs it */
  async function rollOut(values: number[], bake: number): Promise<SiteRollout> {
    const modelVersionId = await centralModel(central, paintId, values);
    const asked = await central.client.call(federationRoutes.createSiteRollout, {
      params: { id: "plant-r" },
      body: {
        modelVersionId,
        pipeline: "default",
        target: { deviceIds: [], tags: ["canary"] },
        strategy: { bakeSeconds: bake },
        gates: { disabled: [...GATES.disabled] },
      },
    });
    const running = await until("the site rollout running", asked.id, (r) => r.siteRolloutId !== null);
    const local = await site.client.call(rolloutRoutes.getRollout, { params: { id: running.siteRolloutId! } });
    await waitFor("the canary to run the new version", async () => (await runs()) === local.modelVersionId, {
      timeoutMs: 60_000,
    });
    return running;
  }

  beforeAll(async () => {
    central = await startHub({ database: backend.database("central"), federation: FAST });
    paintId = (await central.client.call(projectRoutes.create, { body: project("paint") })).id;
    const { token } = await central.client.call(federationRoutes.createSite, {
      body: { id: "plant-r", name: "Plant R", projects: ["paint"] },
    });
    await central.client.call(federationRoutes.createSite, {
      body: { id: "plant-s", name: "Plant S", projects: ["paint"] },
    });
    proxy = new UplinkProxy(Number(new URL(central.httpUrl).port));
    await proxy.open();
    site = await startHub({
      database: backend.database("site"),
      federation: { ...FAST, central: { url: proxy.url, siteId: "plant-r", token } },
      rollout: { tickSeconds: 0.5 },
    });
    const local = await site.client.call(projectRoutes.create, { body: project("paint") });
    const enrolled = await site.client.call(fleetRoutes.enroll, {
      body: { projectId: local.id, id: "canary-cam", tags: ["canary"] },
    });
    agent = await spawnAgent(
      {
        deviceId: "canary-cam",
        hubUrl: enrolled.hubUrl,
        mqttUrl: enrolled.mqttUrl,
        dataDir: join(site.dir.path, "agent"),
        sources: [{ id: "synthetic", type: "synthetic", fps: 2, seed: 5, defectRate: 0.2 }],
        reportIntervalMs: 1000,
        status: { port: 0 },
      },
      join(site.dir.path, "agent.json"),
      { KENSA_DEVICE_SECRET: enrolled.secret },
    );
  }, 120_000);
  afterAll(async () => {
    const notable = agent?.logs.filter((l) => l.level === "error" || l.level === "stderr");
    if (notable?.length) console.log(notable.map((l) => JSON.stringify(l)).join("\n"));
    await agent?.kill("SIGKILL");
    await site?.close();
    await proxy?.cut();
    await central?.close();
  });

  it("rolls back from central: the canary returns to the champion and central sees rolled_back", async () => {
    // the champion: a first site rollout that completes
    const first = await rollOut([0.9, 0.1], 1);
    await until("the first site rollout completed", first.id, (r) => r.state === "completed");
    champion = (await runs())!;

    const second = await rollOut([0.8, 0.2], 600);
    expect((await siteRollout(second.id)).state).toBe("running");
    expect(await runs()).not.toBe(champion);

    // people without deployments:manage are refused; a person scoped to another site is told
    // there is no such site; an unknown rollout is named
    const scoped = await createUser(central.httpUrl, central.call, "iot_engineer", "ines");
    await central.call("PATCH", `/api/v1/users/${scoped.id}`, { body: { sites: ["plant-s"] } });
    const elsewhere = await command(second.id, "rollback", {}, scoped.call);
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.json.error.code).toBe("KENSA_ERR_SITE_NOT_FOUND");
    const engineer = await createUser(central.httpUrl, central.call, "site_engineer", "sam");
    expect((await command(second.id, "rollback", {}, engineer.call)).status).toBe(403);
    const unknown = await command("srl_nope", "pause");
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("KENSA_ERR_ROLLOUT_NOT_FOUND");
    expect((await siteRollout(second.id)).commands).toEqual([]);

    const env = { KENSA_HUB_URL: central.httpUrl, KENSA_ADMIN_TOKEN: central.hub.adminToken };
    const cli = await kensa(
      env,
      "site",
      "rollout",
      "rollback",
      "plant-r",
      second.id,
      "--reason",
      "scratches on line 2",
    );
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^command scm_\S+: rollback site rollout/);

    const done = await until(
      "central to see the rollback applied",
      second.id,
      (r) => r.state === "rolled_back" && r.commands[0]?.state === "applied",
    );
    expect(done.commands).toMatchObject([
      { action: "rollback", reason: "scratches on line 2", state: "applied", rolloutState: "rolled_back", error: null },
    ]);
    expect(done.reason).toContain("scratches on line 2");
    expect(done.waves[0]?.state).toBe("rolled_back");
    await waitFor("the canary back on the champion", async () => (await runs()) === champion, { timeoutMs: 60_000 });

    // the site's rollout service did it, under central's name
    const local = await site.client.call(rolloutRoutes.getRollout, { params: { id: done.siteRolloutId! } });
    expect(local.history.at(-1)).toMatchObject({ from: "running", to: "rolled_back" });
    expect(local.history.at(-1)!.by).toMatch(/^central:/);
    const audit = await central.call<{ items: Array<{ action: string; targetId: string }> }>(
      "GET",
      "/api/v1/audit?limit=50",
    );
    expect(audit.json.items).toContainEqual(
      expect.objectContaining({ action: "site.rollout.rollback", targetId: second.id }),
    );

    // a rollout central knows finished takes no command
    const late = await command(second.id, "resume");
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe("KENSA_ERR_ROLLOUT_STATE");

    const shown = await kensa(env, "site", "rollouts", "plant-r");
    expect(shown.stdout).toContain("rollback applied");
  }, 240_000);

  it("applies commands queued during a cut in order, once, and sends back a refusal's code", async () => {
    const third = await rollOut([0.7, 0.3], 600);
    await proxy.cut();
    await waitFor("the site to notice the cut", async () => {
      const s = await site.client.call(federationRoutes.status, {});
      return s.uplink === "down";
    });
    // pause, then roll back, then resume: the last finds the rollout rolled back and is refused
    const queued: string[] = [];
    for (const action of ["pause", "rollback", "resume"]) {
      const c = await command(third.id, action, { reason: `${action} while the plant is cut off` });
      expect(c.status, JSON.stringify(c.json)).toBe(202);
      expect(c.json).toMatchObject({ action, state: "pending", rolloutState: null });
      queued.push(c.json.id);
    }
    await new Promise((r) => setTimeout(r, 1500));
    const local = () => site.client.call(rolloutRoutes.getRollout, { params: { id: third.siteRolloutId! } });
    expect((await local()).state).toBe("running");

    await proxy.open();
    const done = await until("every queued command answered", third.id, (r) =>
      r.commands.every((c) => c.state !== "pending"),
    );
    expect(done.commands.map((c) => [c.id, c.action, c.state, c.rolloutState])).toEqual([
      [queued[0], "pause", "applied", "paused"],
      [queued[1], "rollback", "applied", "rolled_back"],
      [queued[2], "resume", "refused", "rolled_back"],
    ]);
    expect(done.commands[2]!.error?.code).toBe("KENSA_ERR_ROLLOUT_STATE");
    await until("central to see the rollout rolled back", third.id, (r) => r.state === "rolled_back");
    const transitions = (await local()).history.map((h) => h.to);
    expect(transitions.filter((t) => t === "paused")).toHaveLength(1);
    expect(transitions.slice(-2)).toEqual(["paused", "rolled_back"]);
    await waitFor("the canary back on the champion", async () => (await runs()) === champion, { timeoutMs: 60_000 });

    // the site loses both streams' positions and its answers (a crash before they were kept):
    // every command is pulled again, and the rollout's history says which already acted
    await site.hub.store.db.deleteFrom("federation_rollout_commands").execute();
    await site.hub.store.db.deleteFrom("federation_cursors").where("stream", "like", "rollout-command%").execute();
    await waitFor("the commands pulled and answered again", async () => {
      const rows = await site.hub.store.db
        .selectFrom("federation_rollout_commands")
        .select("command_id")
        .where("central_rollout_id", "=", third.id)
        .execute();
      const cursors = await site.hub.store.db.selectFrom("federation_cursors").select("stream").execute();
      return rows.length === 3 && cursors.some((c) => c.stream === "rollout-command-results");
    });
    await new Promise((r) => setTimeout(r, 1000));
    const answers = await site.hub.store.db
      .selectFrom("federation_rollout_commands")
      .select(["command_id", "outcome"])
      .where("central_rollout_id", "=", third.id)
      .execute();
    // the pause is known applied by its mark, not refused as if sent to a rolled-back rollout
    expect(Object.fromEntries(answers.map((a) => [a.command_id, a.outcome]))).toEqual({
      [queued[0]!]: "applied",
      [queued[1]!]: "applied",
      [queued[2]!]: "refused",
    });
    expect((await local()).history.map((h) => h.to)).toEqual(transitions);
    const again = await siteRollout(third.id);
    expect(again.commands.map((c) => c.state)).toEqual(["applied", "applied", "refused"]);
    expect(again.state).toBe("rolled_back");
  }, 240_000);
});
