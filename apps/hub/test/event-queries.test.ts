import type { IncidentStatus } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import SqliteDriver from "better-sqlite3";
import { type CompiledQuery, type Insertable, Kysely, Migrator, SqliteDialect } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHubConfig } from "../src/config.js";
import { migrationProvider } from "../src/db/migrations/index.js";
import { type MetadataStore, openDatabase } from "../src/db/open-database.js";
import type { EventsTable, HubDatabase, IncidentsTable } from "../src/db/schema.js";
import { type EventQuery, listEvents } from "../src/incidents/event-queries.js";
import { type IncidentQuery, listIncidentRows } from "../src/incidents/incident-queries.js";
import { IncidentService } from "../src/incidents/incident-service.js";
import { StatsService } from "../src/system/stats-service.js";
import { backends, startHub } from "./helpers.js";

const T0 = Date.parse("2025-03-01T08:00:00.000Z");
/** every third row shares its time with the next two: pages must split ties without loss */
const at = (i: number) => new Date(T0 + Math.floor(i / 3) * 1000).toISOString();

function eventRow(i: number, device: string, project: string, seq: number): Insertable<EventsTable> {
  return {
    id: `evt-${String((i * 7919) % 1000).padStart(3, "0")}-${i}`,
    seq,
    device_id: device,
    project_id: project,
    pipeline: "default",
    source_id: "cam",
    ts: at(i),
    received_at: at(i + 1),
    model_version_id: "mdl_t",
    bundle_sha256: "a".repeat(64),
    result: JSON.stringify({ task: "classification", label: "ok", score: 0.9, scores: {}, finding: false }),
    frame_meta: "{}",
    frame_width: 8,
    frame_height: 8,
    latency: "{}",
    media_expected: 0,
    media_sha256: null,
  };
}

const STATUSES: IncidentStatus[] = ["open", "acknowledged", "confirmed"];
function incidentRow(i: number, e: Insertable<EventsTable>): IncidentsTable {
  return {
    id: `inc_${String((i * 104729) % 1000).padStart(3, "0")}${i}`,
    project_id: e.project_id,
    device_id: e.device_id,
    event_id: e.id,
    status: STATUSES[i % 3]!,
    label: i % 2 ? "scratch" : "dent",
    score: 0.9,
    rule: "r",
    model_version_id: "mdl_t",
    bundle_sha256: "a".repeat(64),
    frame_meta: "{}",
    media_sha256: null,
    created_at: at(i),
    acknowledged_by: null,
    acknowledged_at: null,
    clip_sha256: null,
    clip_content_type: null,
    clip_size: null,
    clip_duration_ms: null,
  };
}

/** 3 devices over 2 projects; cam-b lost its database once, so its seq starts over at 1. */
function dataset(): { events: Insertable<EventsTable>[]; incidents: IncidentsTable[] } {
  const events: Insertable<EventsTable>[] = [];
  const seqs = new Map<string, number>();
  for (let i = 0; i < 180; i++) {
    const device = ["cam-a", "cam-b", "cam-c"][i % 3]!;
    let seq = (seqs.get(device) ?? 0) + 1;
    if (device === "cam-b" && seq === 31) seq = 1;
    seqs.set(device, seq);
    events.push(eventRow(i, device, device === "cam-c" ? "p2" : "p1", seq));
  }
  const incidents = events.filter((_, i) => i % 2 === 0).map((e, i) => incidentRow(i, e));
  return { events, incidents };
}

const byKeys =
  <T>(...keys: Array<(r: T) => string | number>) =>
  (a: T, b: T) => {
    for (const k of keys) {
      const [x, y] = [k(a), k(b)];
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };

/** Reads every page of a list; fails on a page past the end or a repeated row. */
async function walk<T extends { id: string }>(
  read: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await read(cursor);
    ids.push(...page.items.map((r) => r.id));
    if (page.nextCursor === null) break;
    expect(page.items.length).toBeGreaterThan(0);
    cursor = page.nextCursor;
  }
  expect(new Set(ids).size).toBe(ids.length);
  return ids;
}

const data = dataset();
const list = await backends("event-queries");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("event and incident lists ($name)", (backend) => {
  let dir: TempDir;
  let store: MetadataStore;
  const events = (q: Omit<EventQuery, "limit">) => (cursor: string | undefined) =>
    listEvents(store.db, { ...q, limit: 7, ...(cursor ? { cursor } : {}) });
  const incidents = (q: Omit<IncidentQuery, "limit">) => (cursor: string | undefined) =>
    listIncidentRows(store.db, { ...q, limit: 5, ...(cursor ? { cursor } : {}) });

  beforeAll(async () => {
    dir = await tempDir("kensa-event-queries-");
    store = await openDatabase(parseHubConfig({ dataDir: dir.path, database: backend.database() }));
    await store.db.insertInto("events").values(data.events).execute();
    await store.db.insertInto("incidents").values(data.incidents).execute();
  });
  afterAll(async () => {
    await store?.close();
    await dir?.remove();
  });

  it("pages a project's events in device and seq order, seq ties included, without gaps or repeats", async () => {
    const expected = data.events
      .filter((e) => e.project_id === "p1")
      .sort(
        byKeys(
          (e) => e.device_id,
          (e) => Number(e.seq),
          (e) => e.id,
        ),
      )
      .map((e) => e.id);
    expect(await walk(events({ projectId: "p1" }))).toEqual(expected);
    // the order and the page a client read before cursors existed
    const first = await listEvents(store.db, { projectId: "p1", limit: 1000 });
    expect(first.items.map((e) => e.id)).toEqual(expected);
    expect(first.nextCursor).toBeNull();
  });

  it("keeps afterSeq: one device's events after the last one a reader has", async () => {
    const page = await listEvents(store.db, { deviceId: "cam-a", afterSeq: 50, limit: 100 });
    expect(page.items.map((e) => e.seq)).toEqual([51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
    expect(await walk(events({ deviceId: "cam-a", afterSeq: 50 }))).toEqual(page.items.map((e) => e.id));
  });

  it.each([
    ["receivedAt", "received_at"],
    ["ts", "ts"],
  ] as const)("pages newest first by %s, by project and by device, within a time range", async (field, column) => {
    const oldest = byKeys<Insertable<EventsTable>>(
      (e) => e[column],
      (e) => e.id,
    );
    const desc = (a: Insertable<EventsTable>, b: Insertable<EventsTable>) => -oldest(a, b);
    const p1 = data.events.filter((e) => e.project_id === "p1").sort(desc);
    expect(await walk(events({ projectId: "p1", order: "newest", timeField: field }))).toEqual(p1.map((e) => e.id));

    const from = at(30);
    const to = at(90);
    const inRange = (e: Insertable<EventsTable>) => e[column] >= from && e[column] < to;
    const dev = data.events.filter((e) => e.device_id === "cam-b" && inRange(e)).sort(desc);
    expect(dev.length).toBeGreaterThan(10);
    expect(await walk(events({ deviceId: "cam-b", order: "newest", timeField: field, from, to }))).toEqual(
      dev.map((e) => e.id),
    );
    // a range given with another offset means the same instants
    const shifted = (iso: string) => new Date(iso).toISOString().replace("Z", "+00:00");
    const same = await listEvents(store.db, {
      projectId: "p1",
      order: "newest",
      timeField: field,
      from: shifted(from),
      to: shifted(to),
      limit: 1000,
    });
    expect(same.items.map((e) => e.id)).toEqual(p1.filter(inRange).map((e) => e.id));
  });

  it("pages incidents newest first by project, status, label, device and time, ties on createdAt included", async () => {
    const newestFirst = [...data.incidents].sort(
      (a, b) =>
        -byKeys<IncidentsTable>(
          (i) => i.created_at,
          (i) => i.id,
        )(a, b),
    );
    const cases: Array<[Omit<IncidentQuery, "limit">, (i: IncidentsTable) => boolean]> = [
      [{}, () => true],
      [{ projectId: "p1" }, (i) => i.project_id === "p1"],
      [{ projectId: "p1", status: "open" }, (i) => i.project_id === "p1" && i.status === "open"],
      [{ projectId: "p1", label: "dent" }, (i) => i.project_id === "p1" && i.label === "dent"],
      [{ status: "confirmed", label: "scratch" }, (i) => i.status === "confirmed" && i.label === "scratch"],
      [{ deviceId: "cam-c" }, (i) => i.device_id === "cam-c"],
      [
        { projectId: "p1", from: at(20), to: at(70) },
        (i) => i.project_id === "p1" && i.created_at >= at(20) && i.created_at < at(70),
      ],
    ];
    for (const [query, keep] of cases) {
      const expected = newestFirst.filter(keep).map((i) => i.id);
      expect(expected.length, JSON.stringify(query)).toBeGreaterThan(5);
      expect(await walk(incidents(query)), JSON.stringify(query)).toEqual(expected);
    }
    // the service's page carries each incident's verdicts and the same cursor
    const service = new IncidentService(store.db);
    const page = await service.list({ projectId: "p1", limit: 3 });
    expect(page.items.map((i) => [i.id, i.verdicts])).toEqual(
      newestFirst
        .filter((i) => i.project_id === "p1")
        .slice(0, 3)
        .map((i) => [i.id, []]),
    );
    expect(page.nextCursor).not.toBeNull();
  });

  it("counts stored rows exactly without reading them: a replayed event adds nothing", async () => {
    const ingest = (() => ({})) as ConstructorParameters<typeof StatsService>[1];
    const stats = new StatsService(store.db, ingest, store.dialect);
    await store.db
      .insertInto("events")
      .values(data.events[0]!)
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
    expect(await stats.get()).toMatchObject({
      events: data.events.length,
      incidents: data.incidents.length,
      verdicts: 0,
      notifications: { sent: 0, failed: 0, suppressed: 0, pending: 0 },
    });
    expect(await stats.rowCount("events")).toBe(data.events.length);
  });

  it("refuses a cursor it did not make, or made in another order, as a validation error", async () => {
    const seqCursor = (await listEvents(store.db, { projectId: "p1", limit: 2 })).nextCursor!;
    const incidentCursor = (await listIncidentRows(store.db, { limit: 2 })).nextCursor!;
    const bad = [
      () => listEvents(store.db, { projectId: "p1", limit: 2, cursor: "not-a-cursor" }),
      () =>
        listEvents(store.db, {
          projectId: "p1",
          limit: 2,
          cursor: Buffer.from('["seq","cam-a","x","y"]').toString("base64url"),
        }),
      () => listEvents(store.db, { projectId: "p1", order: "newest", limit: 2, cursor: seqCursor }),
      () => listEvents(store.db, { projectId: "p1", limit: 2, cursor: incidentCursor }),
      () => listIncidentRows(store.db, { limit: 2, cursor: seqCursor }),
      () => listEvents(store.db, { projectId: "p1", limit: 2, from: "yesterday" }),
    ];
    for (const call of bad) await expect(call()).rejects.toMatchObject({ code: "KENSA_ERR_VALIDATION" });
    const ts = await listEvents(store.db, { projectId: "p1", order: "newest", timeField: "ts", limit: 2 });
    await expect(
      listEvents(store.db, {
        projectId: "p1",
        order: "newest",
        timeField: "receivedAt",
        limit: 2,
        cursor: ts.nextCursor!,
      }),
    ).rejects.toMatchObject({ code: "KENSA_ERR_VALIDATION" });
  });
});

describe("the query plans (SQLite)", () => {
  const raw = new SqliteDriver(":memory:");
  let last: CompiledQuery | undefined;
  const db = new Kysely<HubDatabase>({
    dialect: new SqliteDialect({ database: raw }),
    log: (e) => {
      if (e.level === "query") last = e.query;
    },
  });
  beforeAll(async () => {
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    expect(error).toBeUndefined();
    await db.insertInto("events").values(data.events).execute();
    await db.insertInto("incidents").values(data.incidents).execute();
  });
  afterAll(async () => {
    await db.destroy();
  });

  const planOf = async (run: () => Promise<unknown>): Promise<string> => {
    await run();
    const q = last!;
    const rows = raw.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...(q.parameters as unknown[])) as Array<{
      detail: string;
    }>;
    return rows.map((r) => r.detail).join("\n");
  };

  const seqCursor = async (q: EventQuery) => (await listEvents(db, { ...q, limit: 1 })).nextCursor!;
  it.each<[string, string, (c?: string) => EventQuery | IncidentQuery, "events" | "incidents"]>([
    [
      "events by project",
      "events_project_device_seq_id",
      (cursor) => ({ projectId: "p1", cursor, limit: 50 }),
      "events",
    ],
    ["events by device", "events_device_seq_id", (cursor) => ({ deviceId: "cam-a", cursor, limit: 50 }), "events"],
    [
      "events by project, newest received",
      "events_project_received",
      (cursor) => ({ projectId: "p1", order: "newest", cursor, limit: 50 }),
      "events",
    ],
    [
      "events by project and capture time",
      "events_project_ts",
      (cursor) => ({ projectId: "p1", order: "newest", timeField: "ts", from: at(3), to: at(99), cursor, limit: 50 }),
      "events",
    ],
    [
      "events by device, newest received",
      "events_device_received",
      (cursor) => ({ deviceId: "cam-b", order: "newest", cursor, limit: 50 }),
      "events",
    ],
    [
      "incidents by project",
      "incidents_project_created_id",
      (cursor) => ({ projectId: "p1", cursor, limit: 50 }),
      "incidents",
    ],
    [
      "incidents by project and status",
      "incidents_project_status",
      (cursor) => ({ projectId: "p1", status: "open", cursor, limit: 50 }),
      "incidents",
    ],
    [
      "incidents by project and label",
      "incidents_project_label",
      (cursor) => ({ projectId: "p1", label: "dent", cursor, limit: 50 }),
      "incidents",
    ],
    [
      "incidents by device",
      "incidents_device_created",
      (cursor) => ({ deviceId: "cam-c", cursor, limit: 50 }),
      "incidents",
    ],
    ["incidents", "incidents_created", (cursor) => ({ cursor, limit: 50 }), "incidents"],
  ])("%s read %s in its order, first page and deep, with no sort", async (_name, index, query, table) => {
    const run = (q: EventQuery | IncidentQuery) => () =>
      table === "events" ? listEvents(db, q as EventQuery) : listIncidentRows(db, q as IncidentQuery);
    const first = query(undefined);
    const cursor =
      table === "events"
        ? await seqCursor(first as EventQuery)
        : (await listIncidentRows(db, { ...first, limit: 1 })).nextCursor!;
    for (const q of [first, query(cursor)]) {
      const plan = await planOf(run(q));
      // a deep page starts at its cursor: a range of the index, not a walk from the top
      if (q.cursor) expect(plan).toMatch(/[<>]\?|\)[<>]\(/);
      if (process.env.KENSA_TEST_SHOW_PLANS) console.log(plan);
      expect(plan).toMatch(new RegExp(`INDEX ${index}( |$)`));
      expect(plan).not.toContain("TEMP B-TREE");
    }
  });
});

describe("the list routes", () => {
  it("answer a page with its next cursor, and a bad cursor with KENSA_ERR_VALIDATION", async () => {
    const t = await startHub();
    try {
      const events = await t.call<{ items: unknown[]; nextCursor: string | null }>("GET", "/api/v1/events?limit=5");
      expect(events).toMatchObject({ status: 200, json: { items: [], nextCursor: null } });
      const incidents = await t.call(
        "GET",
        "/api/v1/incidents?projectId=p&status=open&label=dent&from=2025-01-01T00:00:00Z",
      );
      expect(incidents).toMatchObject({ status: 200, json: { items: [], nextCursor: null } });
      for (const path of [
        "/api/v1/events?cursor=nope",
        "/api/v1/incidents?cursor=nope",
        "/api/v1/events?order=oldest",
      ]) {
        const r = await t.call("GET", path);
        expect(r, path).toMatchObject({ status: 400, json: { error: { code: "KENSA_ERR_VALIDATION" } } });
      }
    } finally {
      await t.close();
    }
  });
});
