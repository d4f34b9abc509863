import { federationRoutes, projectRoutes } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { FAST, project } from "./federation-rollout-fixtures.js";
import { backends, startHub } from "./helpers.js";

const list = await backends("federation-close");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

/**
 * A central hub closes promptly while a site polls it directly (no proxy between them), over
 * keep-alive connections that carry a request every few hundred milliseconds: a connection
 * busy when close() starts must not hold the shutdown.
 */
describe.each(list)("central closes while a site polls it (both hubs on $name)", (backend) => {
  it("closes in seconds, and the site sees its uplink down", async () => {
    const central = await startHub({ database: backend.database("central"), federation: FAST });
    await central.client.call(projectRoutes.create, { body: project("paint") });
    const { token } = await central.client.call(federationRoutes.createSite, {
      body: { id: "plant-d", name: "Plant D", projects: ["paint"] },
    });
    const site = await startHub({
      database: backend.database("site"),
      federation: { ...FAST, central: { url: central.httpUrl, siteId: "plant-d", token } },
    });
    try {
      const synced = async () => (await site.client.call(federationRoutes.status, {})).lastSyncAt;
      const first = await waitFor("a first sync", synced);
      await waitFor("a later sync on the same connections", async () => ((await synced()) ?? "") > first!);
      const t0 = Date.now();
      await central.close();
      expect(Date.now() - t0).toBeLessThan(5000);
      await waitFor("the site to see central gone", async () => {
        const s = await site.client.call(federationRoutes.status, {});
        return s.uplink === "down";
      });
    } finally {
      await site.close();
    }
  }, 120_000);
});
