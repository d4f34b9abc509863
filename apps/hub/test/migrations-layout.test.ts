import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type TempDir, tempDir } from "@kensa/testkit";
import { Migrator, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubConfig, parseHubConfig } from "../src/config.js";
import { migrationProvider, migrations } from "../src/db/migrations/index.js";
import { openDatabase } from "../src/db/open-database.js";
import { backends } from "./helpers.js";

/**
 * Names already recorded in existing databases. Renaming one would make an upgraded hub run it a
 * second time (and fail on tables that already exist), so these never change; new ones follow.
 */
const RELEASED = ["0001_initial", "0002_datasets", "0003_training_registry", "0004_people", "0005_incident_clips"];

const names = Object.keys(migrations);

describe("the migration list", () => {
  it("keeps every released name, in place, and only appends", () => {
    expect(names.slice(0, RELEASED.length)).toEqual(RELEASED);
    for (const name of names) expect(name).toMatch(/^\d{4}_[a-z0-9]+(_[a-z0-9]+)*$/);
  });

  it("is strictly ordered, both by code unit and by Kysely's comparator", () => {
    for (let i = 1; i < names.length; i++) {
      const [prev, next] = [names[i - 1]!, names[i]!];
      expect(prev < next, `${prev} before ${next}`).toBe(true);
      expect(prev.localeCompare(next), `${prev} before ${next}`).toBeLessThan(0);
    }
  });

  it("registers every file of the migrations folder, each under its own name", async () => {
    const files = readdirSync(new URL("../src/db/migrations/", import.meta.url))
      .filter((f) => f !== "index.ts")
      .sort();
    expect(files).toEqual(names.map((n) => `${n.replaceAll("_", "-")}.ts`));
    for (const name of names) expect(typeof migrations[name]!.up, name).toBe("function");
    expect(Object.keys(await migrationProvider.getMigrations())).toEqual(names);
  });
});

const list = await backends("migrations-layout");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("migrating a fresh database ($name)", (backend) => {
  let dir: TempDir;
  let config: HubConfig;
  const schemaOf = (c: HubConfig) => (c.database.type === "postgres" ? c.database.schema : undefined);
  const recorded = async (store: Awaited<ReturnType<typeof openDatabase>>) =>
    (
      await sql<{ name: string; timestamp: string | Date }>`select name, timestamp from kysely_migration`.execute(
        store.db,
      )
    ).rows
      .map((r) => ({ name: r.name, timestamp: r.timestamp instanceof Date ? r.timestamp.toISOString() : r.timestamp }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));

  beforeAll(async () => {
    dir = await tempDir("kensa-migrations-");
    config = parseHubConfig({ dataDir: dir.path, database: backend.database("store") });
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it("records exactly the listed migrations, and a second run changes nothing", async () => {
    const first = await openDatabase(config);
    let before: Awaited<ReturnType<typeof recorded>>;
    try {
      if (backend.name === "sqlite") expect(existsSync(join(dir.path, "kensa.db"))).toBe(true);
      before = await recorded(first);
      expect(before.map((r) => r.name)).toEqual(names);

      await first.db
        .insertInto("projects")
        .values({
          id: "p1",
          slug: "line-1",
          name: "Line 1",
          task: "detection",
          labels: "[]",
          ok_labels: "[]",
          rule: "{}",
          notifications: "[]",
          created_at: "2025-01-01T00:00:00.000Z",
        })
        .execute();

      // the same store again: Kysely finds nothing to run
      const schema = schemaOf(config);
      const again = await new Migrator({
        db: first.db,
        provider: migrationProvider,
        ...(schema ? { migrationTableSchema: schema } : {}),
      }).migrateToLatest();
      expect(again.error).toBeUndefined();
      expect(again.results).toEqual([]);
    } finally {
      await first.close();
    }

    // a restarted hub on the same data: opens, runs nothing, and the data is still there
    const second = await openDatabase(config);
    try {
      expect(await recorded(second)).toEqual(before);
      const projects = await second.db.selectFrom("projects").select(["id", "slug"]).execute();
      expect(projects).toEqual([{ id: "p1", slug: "line-1" }]);
    } finally {
      await second.close();
    }
  });
});
