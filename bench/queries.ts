/**
 * Event and incident lists and the hub's counts on a large store: fills SQLite (and PostgreSQL
 * when reachable) with KENSA_BENCH_EVENTS events (10 M by default; KENSA_BENCH_PG_EVENTS for
 * PostgreSQL alone) from 50 devices in 5 projects over 30 days, 1 % of them incidents, then
 * times the hub's own list and stats code on it.
 */
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tcpReachable, tempDir } from "@kensa/testkit";
import { percentile } from "@kensa/vision";
import SqliteDriver from "better-sqlite3";
import { type Kysely, sql } from "kysely";
import pg from "pg";
import { parseHubConfig } from "../apps/hub/src/config.js";
import { openDatabase } from "../apps/hub/src/db/open-database.js";
import type { HubDatabase } from "../apps/hub/src/db/schema.js";
import { listEvents } from "../apps/hub/src/incidents/event-queries.js";
import { IncidentService } from "../apps/hub/src/incidents/incident-service.js";
import { encodeCursor } from "../apps/hub/src/incidents/keyset-cursor.js";
import { StatsService } from "../apps/hub/src/system/stats-service.js";
import { type Row, rowsTable } from "./report.js";

const DEVICES = 50;
const PROJECTS = 5;
const T0 = Date.parse("2026-01-01T00:00:00.000Z") / 1000;
const DAYS = 30;
/** rows per transaction while filling */
const CHUNK = 500_000;
const PG_URL = process.env.KENSA_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Seconds between consecutive events of the whole fleet, so `n` events span `DAYS`. */
const stepOf = (n: number) => (DAYS * 86_400) / n;
/** The receivedAt of event `x`, as the hub stores it. */
const receivedAt = (x: number, n: number) => new Date((T0 + x * stepOf(n)) * 1000).toISOString();

// The generated rows, one SQL expression per column over x = 0 … n-1 (the same for both
// databases but for the date, hex and text functions). Device x % 50 is in project device % 5;
// its seq is x / 50 + 1; an event's label is one of 8; event k × 100 + k % 50 (1 %, every
// device in turn) raised an incident:
// 30 % open, 10 % acknowledged, 40 % confirmed, 20 % false alarm, with one notification
// (2 % failed, 1 % pending) and, once decided, one verdict.
const sqliteEvents = (step: number) => `
  WITH RECURSIVE c(x) AS (SELECT CAST(? AS INTEGER) UNION ALL SELECT x + 1 FROM c WHERE x + 1 < CAST(? AS INTEGER))
  INSERT INTO events (id, seq, device_id, project_id, pipeline, source_id, ts, received_at, model_version_id,
    bundle_sha256, result, frame_meta, frame_width, frame_height, latency, media_expected, media_sha256)
  SELECT printf('evt-%08x-%d', (x * 2654435761) % 4294967296, x), x / ${DEVICES} + 1,
    printf('dev-%02d', x % ${DEVICES}), 'prj-' || (x % ${DEVICES} % ${PROJECTS}), 'default', 'cam',
    strftime('%Y-%m-%dT%H:%M:%fZ', ${T0} + x * ${step} - 0.25, 'unixepoch'),
    strftime('%Y-%m-%dT%H:%M:%fZ', ${T0} + x * ${step}, 'unixepoch'), 'mdl_bench', '${"a".repeat(64)}',
    '{"task":"classification","label":"l' || (x % 8) || '","score":0.91,"scores":{},"finding":false}',
    '{"frame":' || x || '}', 640, 480, '{"total":3}', 0, NULL
  FROM c`;

const sqliteIncidents = (step: number) => `
  WITH RECURSIVE c(k) AS (SELECT CAST(? AS INTEGER) UNION ALL SELECT k + 1 FROM c WHERE k + 1 < CAST(? AS INTEGER))
  INSERT INTO incidents (id, project_id, device_id, event_id, status, label, score, rule, model_version_id,
    bundle_sha256, frame_meta, media_sha256, created_at)
  SELECT printf('inc_%08x%d', (x * 2246822519) % 4294967296, x), 'prj-' || (x % ${DEVICES} % ${PROJECTS}),
    printf('dev-%02d', x % ${DEVICES}), printf('evt-%08x-%d', (x * 2654435761) % 4294967296, x),
    CASE WHEN (x / 700) % 10 < 3 THEN 'open' WHEN (x / 700) % 10 < 4 THEN 'acknowledged'
      WHEN (x / 700) % 10 < 8 THEN 'confirmed' ELSE 'false_alarm' END,
    'l' || (x % 8), 0.91, 'threshold', 'mdl_bench', '${"a".repeat(64)}', '{}', NULL,
    strftime('%Y-%m-%dT%H:%M:%fZ', ${T0} + x * ${step}, 'unixepoch')
  FROM (SELECT k * 100 + k % ${DEVICES} AS x FROM c)`;

const pgEvents = (step: number) => `
  INSERT INTO events (id, seq, device_id, project_id, pipeline, source_id, ts, received_at, model_version_id,
    bundle_sha256, result, frame_meta, frame_width, frame_height, latency, media_expected, media_sha256)
  SELECT 'evt-' || lpad(to_hex((x * 2654435761) % 4294967296), 8, '0') || '-' || x, x / ${DEVICES} + 1,
    'dev-' || lpad((x % ${DEVICES})::text, 2, '0'), 'prj-' || (x % ${DEVICES} % ${PROJECTS}), 'default', 'cam',
    to_char(to_timestamp(${T0} + x * ${step} - 0.25) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    to_char(to_timestamp(${T0} + x * ${step}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'mdl_bench', '${"a".repeat(64)}',
    '{"task":"classification","label":"l' || (x % 8) || '","score":0.91,"scores":{},"finding":false}',
    '{"frame":' || x || '}', 640, 480, '{"total":3}', 0, NULL
  FROM generate_series($1::bigint, $2::bigint - 1) AS x`;

const pgIncidents = (step: number) => `
  INSERT INTO incidents (id, project_id, device_id, event_id, status, label, score, rule, model_version_id,
    bundle_sha256, frame_meta, media_sha256, created_at)
  SELECT 'inc_' || lpad(to_hex((x * 2246822519) % 4294967296), 8, '0') || x,
    'prj-' || (x % ${DEVICES} % ${PROJECTS}), 'dev-' || lpad((x % ${DEVICES})::text, 2, '0'),
    'evt-' || lpad(to_hex((x * 2654435761) % 4294967296), 8, '0') || '-' || x,
    CASE WHEN (x / 700) % 10 < 3 THEN 'open' WHEN (x / 700) % 10 < 4 THEN 'acknowledged'
      WHEN (x / 700) % 10 < 8 THEN 'confirmed' ELSE 'false_alarm' END,
    'l' || (x % 8), 0.91, 'threshold', 'mdl_bench', '${"a".repeat(64)}', '{}', NULL,
    to_char(to_timestamp(${T0} + x * ${step}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  FROM (SELECT k * 100 + k % ${DEVICES} AS x FROM generate_series($1::bigint, $2::bigint - 1) AS k) AS s`;

// notifications and verdicts follow from the incidents already stored
const NOTIFICATIONS = `
  INSERT INTO notifications (id, incident_id, project_id, channel, target, status, attempts, last_error,
    next_attempt_at, created_at, sent_at)
  SELECT 'ntf' || substr(id, 4), id, project_id, 'webhook', 'https://example.test/hook',
    CASE WHEN substr(id, 5, 2) < '05' THEN 'failed' WHEN substr(id, 5, 2) < '08' THEN 'pending' ELSE 'sent' END,
    1, NULL, NULL, created_at, created_at
  FROM incidents`;
const VERDICTS = `
  INSERT INTO verdicts (id, incident_id, verdict, labels, note, decided_by, created_at)
  SELECT 'vrd' || substr(id, 4), id, status, '[]', NULL, 'qe', created_at
  FROM incidents WHERE status IN ('confirmed', 'false_alarm')`;

/** Fills a migrated SQLite file with `n` events (and their incidents, notifications, verdicts). */
export function fillSqlite(path: string, n: number, log: (m: string) => void = () => {}): void {
  const db = new SqliteDriver(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = OFF");
    db.pragma("cache_size = -262144");
    const step = stepOf(n);
    const events = db.prepare(sqliteEvents(step));
    const incidents = db.prepare(sqliteIncidents(step));
    for (let a = 0; a < n; a += CHUNK) {
      const b = Math.min(n, a + CHUNK);
      db.transaction(() => {
        events.run(a, b);
        incidents.run(a / 100, b / 100);
      })();
      log(`sqlite: ${b} events`);
    }
    db.transaction(() => {
      db.exec(NOTIFICATIONS);
      db.exec(VERDICTS);
    })();
  } finally {
    db.close();
  }
}

async function fillPostgres(schema: string, n: number, log: (m: string) => void): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const step = stepOf(n);
    for (let a = 0; a < n; a += CHUNK) {
      const b = Math.min(n, a + CHUNK);
      await client.query("BEGIN");
      await client.query(pgEvents(step), [a, b]);
      await client.query(pgIncidents(step), [a / 100, b / 100]);
      await client.query("COMMIT");
      log(`postgres: ${b} events`);
    }
    await client.query(NOTIFICATIONS);
    await client.query(VERDICTS);
    // what autovacuum would have done by the time a store holds this much
    await client.query("VACUUM ANALYZE");
  } finally {
    await client.end();
  }
}

/** p50/p95 of `run` over `n` runs after a few warm-up runs, in ms. */
async function timeIt(name: string, run: () => Promise<unknown>, notes: string, n = 60): Promise<Row> {
  for (let i = 0; i < 5; i++) await run();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await run();
    ms.push(performance.now() - t);
  }
  const r = (x: number) => Math.round(x * 100) / 100;
  return { name, unit: "ms", p50: r(percentile(ms, 50)), p95: r(percentile(ms, 95)), n, notes };
}

/** The lists a console, an agent and a quality engineer ask for, through the hub's own code. */
export async function measureLists(db: Kysely<HubDatabase>, dialect: "sqlite" | "postgres", n: number): Promise<Row[]> {
  const incidents = new IncidentService(db);
  const stats = new StatsService(db, (() => ({})) as ConstructorParameters<typeof StatsService>[1], dialect);
  const mid = receivedAt(Math.floor(n / 2), n);
  const hourAt = (x: number) => ({
    from: receivedAt(x, n),
    to: new Date(Date.parse(receivedAt(x, n)) + 3_600_000).toISOString(),
  });
  const perDevice = Math.floor(n / DEVICES);
  const size = `${(n / 1e6).toLocaleString("en")} M events, ${dialect}`;
  const page = 100;
  const rows: Row[] = [];
  const add = async (name: string, run: () => Promise<{ items: unknown[] }>, what: string) => {
    const got = (await run()).items.length;
    rows.push(await timeIt(`${name} (${dialect})`, run, `${what}; ${got} rows a page; ${size}`));
  };
  await add(
    "events by project, first page",
    () => listEvents(db, { projectId: "prj-0", limit: page }),
    "device/seq order",
  );
  await add(
    "events by project, deep page",
    () =>
      listEvents(db, {
        projectId: "prj-0",
        cursor: encodeCursor("seq", ["dev-25", Math.floor(perDevice / 2), ""]),
        limit: page,
      }),
    "keyset cursor half-way through the project",
  );
  await add(
    "events by project, newest first",
    () => listEvents(db, { projectId: "prj-1", order: "newest", limit: page }),
    "by receivedAt",
  );
  await add(
    "events by project, newest, deep page",
    () =>
      listEvents(db, {
        projectId: "prj-1",
        order: "newest",
        cursor: encodeCursor("newest:receivedAt", [mid, ""]),
        limit: page,
      }),
    "keyset cursor half-way back in time",
  );
  await add(
    "events by device, after a seq",
    () => listEvents(db, { deviceId: "dev-07", afterSeq: Math.floor(perDevice / 2), limit: page }),
    "an agent's afterSeq read",
  );
  await add(
    "events by project and time range",
    () =>
      listEvents(db, {
        projectId: "prj-2",
        order: "newest",
        timeField: "ts",
        ...hourAt(Math.floor(n / 3)),
        limit: page,
      }),
    "one hour of capture time, newest first",
  );
  await add(
    "incidents by project",
    () => incidents.list({ projectId: "prj-3", limit: page }),
    "newest first, with verdicts",
  );
  await add(
    "incidents by project, deep page",
    () => incidents.list({ projectId: "prj-3", cursor: encodeCursor("newest", [mid, ""]), limit: page }),
    "keyset cursor half-way back in time",
  );
  await add(
    "incidents by project and status",
    () => incidents.list({ projectId: "prj-3", status: "open", limit: page }),
    "open ones",
  );
  await add(
    "incidents by project and label",
    () => incidents.list({ projectId: "prj-4", label: "l4", limit: page }),
    "one label of 8",
  );
  const counted = await stats.rowCount("events");
  rows.push(
    await timeIt(
      `stats (${dialect})`,
      () => stats.get(),
      `GET /stats counts (events counted: ${counted.toLocaleString("en")}); ${size}`,
    ),
  );
  return rows;
}

/** The bench section: SQLite always, PostgreSQL when a server answers at 127.0.0.1:5432. */
export async function queriesSection(): Promise<{ markdown: string; data: unknown }> {
  // whole hundreds: one event of each hundred raised an incident
  const n = Math.ceil(Number(process.env.KENSA_BENCH_EVENTS ?? 10_000_000) / 100) * 100;
  const log = (m: string) => console.error(`bench: queries: ${m}`);
  const rows: Row[] = [];
  const fills: string[] = [];

  const dir = await tempDir("kensa-bench-queries-");
  try {
    const store = await openDatabase(parseHubConfig({ dataDir: dir.path, database: { type: "sqlite" } }));
    await store.close();
    const t = performance.now();
    fillSqlite(join(dir.path, "kensa.db"), n, log);
    fills.push(`SQLite: ${n.toLocaleString("en")} events filled in ${Math.round((performance.now() - t) / 1000)} s`);
    const reopened = await openDatabase(parseHubConfig({ dataDir: dir.path, database: { type: "sqlite" } }));
    try {
      rows.push(...(await measureLists(reopened.db, "sqlite", n)));
    } finally {
      await reopened.close();
    }
  } finally {
    await dir.remove();
  }

  const pgN = Math.ceil(Number(process.env.KENSA_BENCH_PG_EVENTS ?? n) / 100) * 100;
  if (pgN > 0 && (await tcpReachable("127.0.0.1", 5432))) {
    const schema = `kensa_bench_queries_${randomBytes(3).toString("hex")}`;
    const config = parseHubConfig({ dataDir: tmpdir(), database: { type: "postgres", url: PG_URL, schema } });
    const store = await openDatabase(config);
    try {
      const t = performance.now();
      await fillPostgres(schema, pgN, log);
      fills.push(
        `PostgreSQL: ${pgN.toLocaleString("en")} events filled in ${Math.round((performance.now() - t) / 1000)} s`,
      );
      rows.push(...(await measureLists(store.db, "postgres", pgN)));
    } finally {
      await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(store.db).catch(() => {});
      await store.close();
    }
  } else {
    fills.push("PostgreSQL: not reachable at 127.0.0.1:5432, skipped");
  }

  const markdown = [
    "Pages of 100 through the hub's list and stats code (`incidents/event-queries.ts`,",
    "`incident-queries.ts`, `system/stats-service.ts`) on stores filled with events from 50 devices",
    "in 5 projects over 30 days, 1 % of them incidents. Deep pages start from a keyset cursor",
    "half-way through the list. What each count is (exact or estimated): `docs/lists-and-counts.md`.",
    "",
    ...fills.map((f) => `- ${f}`),
    "",
    rowsTable(rows),
  ].join("\n");
  return { markdown, data: { events: n, rows } };
}
