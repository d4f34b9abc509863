import type { RetentionRun } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, seed, startHub, type TestHub } from "./helpers.js";
import { bytes, storeEvent } from "./retention-fixtures.js";

/**
 * Two hub replicas on one PostgreSQL schema and one data dir: a retention run happens on one
 * replica at a time (the `retention` lease), and a schedule that fires on both runs once.
 */
const postgres = (await backends("retention-replicas")).find((b) => b.name === "postgres");

describe.skipIf(!postgres)("retention across two hub replicas on PostgreSQL", () => {
  let dir: TempDir;
  let a: TestHub;
  let b: TestHub;
  let projectId: string;

  // timers never fire during the test: each replica's job is driven directly, as its timer would
  const replica = (database: unknown) =>
    startHub({ database: database as never, retention: { everyMinutes: 10_000, batchSize: 1, pauseMs: 100 } }, { dir });

  beforeAll(async () => {
    dir = await tempDir("kensa-retention-replicas-");
    const database = postgres!.database("shared");
    a = await replica(database);
    b = await replica(database);
    ({ projectId } = await seed(a.call, "ret-replicas", [{ id: "ret-r1" }]));
    await a.call("PUT", `/api/v1/projects/${projectId}/retention`, { body: { events: { maxAgeDays: 7 } } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await dir?.remove();
    await postgres?.cleanup();
  });

  const oldEvents = async (n: number) => {
    const out = [];
    for (let i = 0; i < n; i++)
      out.push(
        await storeEvent(a.hub.store.db, a.hub.blobs, {
          projectId,
          deviceId: "ret-r1",
          ageDays: 30,
          media: bytes(100),
        }),
      );
    return out;
  };
  const runsCount = async () =>
    (await a.call<{ items: RetentionRun[] }>("GET", "/api/v1/retention/runs?limit=100")).json.items.length;

  it("runs a schedule that fires on both replicas once", async () => {
    await oldEvents(3);
    const [ra, rb] = await Promise.all([a.hub.app.retention.run("schedule"), b.hub.app.retention.run("schedule")]);
    const ran = [ra, rb].filter((r) => r !== null);
    expect(ran).toHaveLength(1);
    expect(ran[0]!.deleted.events).toBe(3);
    expect(await runsCount()).toBe(1);
    // the interval has not passed since: neither replica runs again
    expect(await Promise.all([a.hub.app.retention.run("schedule"), b.hub.app.retention.run("schedule")])).toEqual([
      null,
      null,
    ]);
    expect(await runsCount()).toBe(1);
  });

  it("refuses a requested run while the other replica holds the lease, and runs it once that one is done", async () => {
    await oldEvents(5);
    const first = a.call<RetentionRun>("POST", "/api/v1/retention/runs");
    // 5 batches of 1 with 100 ms pauses: a's run holds the lease for about half a second
    let lease: { holder: string } | undefined;
    for (let i = 0; i < 50 && !lease; i++) {
      lease = await a.hub.store.db
        .selectFrom("hub_leases")
        .select("holder")
        .where("name", "=", "retention")
        .executeTakeFirst();
      if (!lease) await new Promise((r) => setTimeout(r, 10));
    }
    expect(lease).toBeDefined();
    const refused = await b.call<{ error: { code: string } }>("POST", "/api/v1/retention/runs");
    expect([refused.status, refused.json.error.code]).toEqual([409, "KENSA_ERR_RETENTION_BUSY"]);
    const done = await first;
    expect(done.status).toBe(201);
    expect(done.json.deleted.events).toBe(5);
    expect(done.json.holder).toBe(lease!.holder);
    // released at the end: the other replica runs now
    const second = await b.call<RetentionRun>("POST", "/api/v1/retention/runs");
    expect(second.status).toBe(201);
    expect(second.json.holder).not.toBe(done.json.holder);
    expect(second.json.deleted.events).toBe(0);
    const runs = (await b.call<{ items: RetentionRun[] }>("GET", "/api/v1/retention/runs?limit=100")).json.items;
    // runs never overlapped: each started after the one before it finished
    const byStart = [...runs].sort((x, y) => x.startedAt.localeCompare(y.startedAt));
    for (let i = 1; i < byStart.length; i++) expect(byStart[i]!.startedAt >= byStart[i - 1]!.finishedAt).toBe(true);
  });
});
