import type { RetentionRun } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seed, startHub, type TestHub } from "./helpers.js";
import { daysAgo, storeEvent } from "./retention-fixtures.js";

describe("retention deletes in short batches that other writers interleave with", () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startHub({ retention: { everyMinutes: 10_000, batchSize: 100, pauseMs: 0 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("lets another writer commit while it deletes thousands of events, and deletes them all", async () => {
    const { projectId } = await seed(t.call, "ret-batches", [{ id: "ret-b1" }]);
    await t.call("PUT", `/api/v1/projects/${projectId}/retention`, { body: { events: { maxAgeDays: 7 } } });
    const db = t.hub.store.db;
    // 3,000 old events, inserted in bulk
    const template = await storeEvent(db, t.hub.blobs, { projectId, deviceId: "ret-b1", ageDays: 30 });
    const row = await db.selectFrom("events").selectAll().where("id", "=", template.id).executeTakeFirstOrThrow();
    for (let i = 0; i < 30; i++) {
      await db
        .insertInto("events")
        .values(
          Array.from({ length: 100 }, (_, k) => ({
            ...row,
            id: `old-${i}-${k}`,
            seq: 10 + i * 100 + k,
            received_at: daysAgo(30),
          })),
        )
        .execute();
    }

    let runDone = false;
    const running = t.call<RetentionRun>("POST", "/api/v1/retention/runs").finally(() => {
      runDone = true;
    });
    // a writer storing new events one at a time while the run goes on, as ingest does
    let during = 0;
    let written = 0;
    /** old events left, as the writer saw them between its commits */
    const seen = new Set<number>();
    while (!runDone && written < 20_000) {
      await db
        .insertInto("events")
        .values({ ...row, id: `new-${written}`, seq: 100_000 + written, received_at: new Date().toISOString() })
        .execute();
      written++;
      if (!runDone) during++;
      const old = await db
        .selectFrom("events")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("id", "like", "old-%")
        .executeTakeFirstOrThrow();
      seen.add(Number(old.n));
      // ingest commits a batch, then waits for the next messages
      await new Promise((r) => setTimeout(r, 2));
    }
    const run = await running;
    expect(run.status).toBe(201);
    expect(run.json.deleted.events).toBe(3001);
    // the writer was not shut out for the whole run: its commits landed between batches
    expect(during).toBeGreaterThan(5);
    // and saw the deletion part-way, batch after batch — one big transaction would show 3,000 then 0
    expect([...seen].filter((n) => n > 0 && n < 3000).length).toBeGreaterThanOrEqual(3);
    const left = await db.selectFrom("events").select("id").where("project_id", "=", projectId).execute();
    expect(left).toHaveLength(written);
    expect(left.every((e) => e.id.startsWith("new-"))).toBe(true);
  });
});
