import { join } from "node:path";
import {
  federationRoutes,
  fleetRoutes,
  projectRoutes,
  registryRoutes,
  rolloutRoutes,
  type SiteRollout,
  type SiteRolloutState,
} from "@kensa/contracts";
import { type AgentProcess, spawnAgent, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "../../cli/test/run-kensa.js";
import { UplinkProxy } from "./federation-fixtures.js";
import { centralModel, FAST, GATES, project } from "./federation-rollout-fixtures.js";
import { backends, startHub, type TestHub } from "./helpers.js";

const list = await backends("federation-rollouts");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

/**
 * Rollouts central asks of a site: two real hubs, the site behind a proxy the test cuts, a real
 * agent on the site's canary device. The site runs the staged rollout with its own gates and
 * central sees its waves, gate verdicts and end state; a cut and a replayed stream create
 * nothing twice.
 */
describe.each(list)(
  "site rollouts: central asks, the site rolls out with its own gates (both hubs on $name)",
  (backend) => {
    let central: TestHub;
    let site: TestHub;
    let proxy: UplinkProxy;
    let agent: AgentProcess | undefined;
    let paintId: string;
    let siteToken: string;

    const siteRollouts = async () =>
      (await central.client.call(federationRoutes.listSiteRollouts, { params: { id: "plant-r" } })).items;
    const ask = (body: Record<string, unknown>) =>
      central.call<SiteRollout & { error: { code: string } }>("POST", "/api/v1/sites/plant-r/rollouts", { body });
    const runs = async () =>
      (await site.client.call(fleetRoutes.get, { params: { id: "canary-cam" } })).reported?.pipelines.find(
        (p) => p.id === "default",
      );
    /** the site's rollouts that central asked for */
    const localRollouts = async () =>
      (await site.client.call(rolloutRoutes.listRollouts, { query: {} })).items.filter(
        (r) => r.createdBy === "central",
      );

    beforeAll(async () => {
      central = await startHub({ database: backend.database("central"), federation: FAST });
      paintId = (await central.client.call(projectRoutes.create, { body: project("paint") })).id;
      const { token } = await central.client.call(federationRoutes.createSite, {
        body: { id: "plant-r", name: "Plant R", projects: ["paint"] },
      });
      siteToken = token;
      proxy = new UplinkProxy(Number(new URL(central.httpUrl).port));
      await proxy.open();
      site = await startHub({
        database: backend.database("site"),
        federation: { ...FAST, central: { url: proxy.url, siteId: "plant-r", token } },
        // the site judges its waves twice a second: the test waits for evidence, not for a timer
        rollout: { tickSeconds: 0.5 },
      });
      // no auto-deploy target on the site: central's approvals reach no device until a rollout does
      const local = await site.client.call(projectRoutes.create, { body: project("paint") });
      await site.client.call(fleetRoutes.enroll, { body: { projectId: local.id, id: "line-cam", tags: ["line"] } });
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

    it("refuses, with a code, a version central has not approved, another project's, an unknown site", async () => {
      const candidate = await centralModel(central, paintId, [0.9, 0.1], true);
      const r = await ask({ modelVersionId: candidate, target: { tags: ["canary"] } });
      expect(r.status).toBe(409);
      expect(r.json.error.code).toBe("KENSA_ERR_MODEL_NOT_DEPLOYABLE");

      const other = (await central.client.call(projectRoutes.create, { body: project("other") })).id;
      const elsewhere = await ask({ modelVersionId: await centralModel(central, other, [0.9, 0.1]), target: {} });
      expect(elsewhere.status).toBe(422);
      expect(elsewhere.json.error.code).toBe("KENSA_ERR_SITE_PROJECT_UNKNOWN");

      const nowhere = await central.call<{ error: { code: string } }>("POST", "/api/v1/sites/nope/rollouts", {
        body: { modelVersionId: candidate, target: {} },
      });
      expect(nowhere.status).toBe(404);
      expect(nowhere.json.error.code).toBe("KENSA_ERR_SITE_NOT_FOUND");
      expect(await siteRollouts()).toEqual([]);
    });

    let first: SiteRollout;
    it("runs the rollout on the site's canary devices, and central sees it running, then completed", async () => {
      const modelId = await centralModel(central, paintId, [0.8, 0.2]);
      const asked = await ask({
        modelVersionId: modelId,
        target: { tags: ["canary"] },
        strategy: { bakeSeconds: 3 },
        gates: GATES,
      });
      expect(asked.status).toBe(201);
      expect(asked.json).toMatchObject({ state: "requested", siteId: "plant-r", modelVersionId: modelId });
      const audit = await central.call<{ items: Array<{ action: string }> }>("GET", "/api/v1/audit?limit=50");
      expect(audit.json.items.map((e) => e.action)).toContain("site.rollout.create");

      // every state central is shown, in order, until the site's rollout ends
      const seen: SiteRolloutState[] = [];
      first = await waitFor(
        "central to see the site's rollout completed",
        async () => {
          const r = (await siteRollouts()).find((x) => x.id === asked.json.id)!;
          if (seen.at(-1) !== r.state) seen.push(r.state);
          return r.state === "completed" ? r : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 100 },
      );
      expect(seen).toContain("running");
      expect(seen.indexOf("running")).toBeLessThan(seen.indexOf("completed"));
      expect(first.waves).toHaveLength(1);
      expect(first.waves[0]).toMatchObject({ deviceIds: ["canary-cam"], state: "passed" });
      expect(first.waves[0]!.gates.find((g) => g.gate === "install")?.status).toBe("pass");
      expect(first.siteRolloutId).toMatch(/^rol_/);

      // the device runs the site's copy of central's version, delivered by the site's rollout
      const p = await runs();
      expect(p?.status).toBe("loaded");
      const mine = await site.client.call(registryRoutes.get, { params: { id: p!.bundle!.modelVersionId } });
      expect(mine.source).toBe(`central:${modelId}`);
      const local = await site.client.call(rolloutRoutes.getRollout, { params: { id: first.siteRolloutId! } });
      expect(local).toMatchObject({ createdBy: "central", modelVersionId: mine.id, state: "completed" });
      // a device outside the target was left alone
      const line = await site.hub.store.db
        .selectFrom("devices")
        .select("desired")
        .where("id", "=", "line-cam")
        .executeTakeFirstOrThrow();
      expect(line.desired ?? "").not.toContain(mine.id);
      const canary = await site.hub.store.db
        .selectFrom("devices")
        .select("desired")
        .where("id", "=", "canary-cam")
        .executeTakeFirstOrThrow();
      expect(canary.desired ?? "").toContain(mine.id);
    }, 150_000);

    it("reports a rollout the site cannot run (no device matches) as failed, with the site's code", async () => {
      const asked = await ask({ modelVersionId: first.modelVersionId, target: { tags: ["nowhere"] } });
      expect(asked.status).toBe(201);
      const failed = await waitFor("the refusal on central", async () => {
        const r = (await siteRollouts()).find((x) => x.id === asked.json.id)!;
        return r.state === "failed" ? r : undefined;
      });
      expect(failed.error?.code).toBe("KENSA_ERR_DEPLOYMENT_NO_TARGETS");
      expect(failed.siteRolloutId).toBeNull();
    }, 60_000);

    it("asks through an uplink cut, runs once when it is back, and a replayed stream creates nothing twice", async () => {
      await proxy.cut();
      await waitFor("the site to notice the cut", async () => {
        const s = await site.client.call(federationRoutes.status, {});
        return s.uplink === "down";
      });
      const modelId = await centralModel(central, paintId, [0.7, 0.3]);
      // asked with `kensa site rollout`, as an operator on central would
      const env = { KENSA_HUB_URL: central.httpUrl, KENSA_ADMIN_TOKEN: central.hub.adminToken };
      const gates = GATES.disabled.flatMap((g) => ["--disable-gate", g]);
      const cmd = await kensa(env, "site", "rollout", "plant-r", modelId, "--tag", "canary", "--bake", "1s", ...gates);
      expect(cmd.status, cmd.stderr).toBe(0);
      const asked = { json: (await siteRollouts()).find((r) => r.modelVersionId === modelId)! };
      expect(cmd.stdout).toContain(`site rollout ${asked.json.id}`);
      expect(asked.json).toMatchObject({ state: "requested", target: { tags: ["canary"], deviceIds: [] } });
      expect(asked.json.strategy).toMatchObject({ bakeSeconds: 1 });
      expect(asked.json.gates).toMatchObject({ disabled: [...GATES.disabled] });
      await new Promise((r) => setTimeout(r, 1000));
      expect(await localRollouts()).toHaveLength(1);

      await proxy.open();
      const done = await waitFor(
        "the rollout asked during the cut completed on central",
        async () => {
          const r = (await siteRollouts()).find((x) => x.id === asked.json.id)!;
          return r.state === "completed" ? r : undefined;
        },
        { timeoutMs: 90_000 },
      );
      const p = await runs();
      const mine = await site.client.call(registryRoutes.get, { params: { id: p!.bundle!.modelVersionId } });
      expect(mine.source).toBe(`central:${modelId}`);

      // the site forgets where both streams stopped (a cursor write lost in a cut): it is given
      // every order again and resends every state
      const before = await site.client.call(federationRoutes.status, {});
      await site.hub.store.db.deleteFrom("federation_cursors").where("stream", "like", "rollout%").execute();
      await waitFor("both streams replayed", async () => {
        const cursors = await site.hub.store.db.selectFrom("federation_cursors").select("stream").execute();
        return ["rollouts", "rollout-states"].every((x) => cursors.some((c) => c.stream === x));
      });
      // and a few more syncs
      await new Promise((r) => setTimeout(r, 1000));
      const after = await site.client.call(federationRoutes.status, {});
      expect(after.pulled.rollouts).toBe(before.pulled.rollouts);

      const locals = await localRollouts();
      expect(locals).toHaveLength(2);
      expect(new Set(locals.map((r) => r.id)).size).toBe(2);
      const all = await siteRollouts();
      expect(all.map((r) => r.state)).toEqual(["completed", "failed", "completed"]);
      expect(all.find((r) => r.id === asked.json.id)?.siteRolloutId).toBe(done.siteRolloutId);

      // `kensa site rollouts` shows what central sees
      const cli = await kensa(env, "site", "rollouts", "plant-r");
      expect(cli.status, cli.stderr).toBe(0);
      expect(cli.stdout).toContain(asked.json.id);
      expect(cli.stdout).toContain("install:pass");
      expect(cli.stdout).toContain("KENSA_ERR_DEPLOYMENT_NO_TARGETS");
      const json = await kensa(env, "site", "rollouts", "plant-r", "--json");
      expect((JSON.parse(json.stdout) as SiteRollout[]).map((r) => r.id)).toEqual(all.map((r) => r.id));

      // a report older than the one central holds (late, after a cut) changes nothing; one of a
      // rollout central never asked for is refused per item
      const late = {
        id: done.id,
        rolloutId: done.siteRolloutId,
        state: "running",
        currentWave: 0,
        waves: [],
        reason: null,
        error: null,
        updatedAt: new Date(Date.parse(done.reportedAt!) - 60_000).toISOString(),
      };
      const push = await central.call<{ ok: number; duplicates: number; failed: Array<{ code: string }> }>(
        "POST",
        "/api/v1/federation/sites/plant-r/rollouts",
        { auth: `Bearer ${siteToken}`, body: { items: [late, { ...late, id: "srl_nope" }] } },
      );
      expect(push.json).toMatchObject({ ok: 0, duplicates: 1, failed: [{ code: "KENSA_ERR_ROLLOUT_NOT_FOUND" }] });
      expect((await siteRollouts()).find((r) => r.id === done.id)?.state).toBe("completed");
    }, 180_000);
  },
);
