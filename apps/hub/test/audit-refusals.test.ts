import { join } from "node:path";
import { topics } from "@kensa/contracts";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import SqliteDriver from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHubConfig } from "../src/config.js";
import { openDatabase } from "../src/db/open-database.js";
import { verifyAuditOffline } from "../src/index.js";
import { AuditLog } from "../src/people/audit-log.js";
import { AuditRefusals } from "../src/people/audit-refusals.js";
import { createUser } from "./auth-fixtures.js";
import { connectDevice, startHub, subscribeQos, type TestHub } from "./helpers.js";

interface Entry {
  seq: number;
  actor: string;
  actor_kind: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: string;
  ip: string | null;
}

describe("refused HTTP calls in the audit log (sqlite)", () => {
  let dir: TempDir;
  let t: TestHub;
  const entries = (action: string): Entry[] =>
    new SqliteDriver(join(dir.path, "kensa.db"), { readonly: true })
      .prepare("select * from audit_log where action = ? order by seq")
      .all(action) as Entry[];

  beforeAll(async () => {
    dir = await tempDir("kensa-audit-refusals-");
    t = await startHub({}, { dir });
  });
  afterAll(async () => {
    await t?.close();
    await dir?.remove();
  });

  it("records a 403 flood and a 401 flood with a bounded number of entries, and counts them", async () => {
    const labeler = await createUser(t.httpUrl, t.call, "labeler");
    for (let round = 0; round < 6; round++) {
      const replies = await Promise.all([
        ...Array.from({ length: 10 }, () => labeler.call("GET", "/api/v1/audit")),
        ...Array.from({ length: 5 }, () => t.call("GET", "/api/v1/projects", { auth: null })),
      ]);
      expect(replies.map((r) => r.status).sort()).toEqual([...Array(5).fill(401), ...Array(10).fill(403)]);
    }
    // a public route answering 401 (a failed sign-in) is not a refusal: it has its own entry
    await t.call("POST", "/api/v1/auth/login", { body: { username: "labeler", password: "nope-nope" }, auth: null });

    await waitFor("the first refusals written", () => entries("http.refused").length === 20, { timeoutMs: 5000 });
    const refused = entries("http.refused");
    const forbidden = refused.filter((e) => e.actor === "labeler");
    expect(forbidden).toHaveLength(10);
    expect(forbidden[0]).toMatchObject({ actor_kind: "user", target_type: "route", target_id: "GET /api/v1/audit" });
    expect(JSON.parse(forbidden[0]!.details)).toMatchObject({ status: 403, code: "KENSA_ERR_FORBIDDEN" });
    const anonymous = refused.filter((e) => e.actor === "anonymous");
    expect(anonymous).toHaveLength(10);
    expect(anonymous[0]).toMatchObject({ actor_kind: "anonymous", ip: "127.0.0.1" });
    expect(JSON.parse(anonymous[0]!.details)).toMatchObject({ status: 401, code: "KENSA_ERR_UNAUTHORIZED" });

    const metrics = (await t.call<string>("GET", "/metrics")).json;
    expect(metrics).toContain('kensa_audit_refusals_total{action="http.refused",outcome="recorded"} 20');
    expect(metrics).toContain('kensa_audit_refusals_total{action="http.refused",outcome="suppressed"} 70');

    // the window's summaries are written when it ends, or when the hub stops
    await t.close();
    const summaries = entries("audit.suppressed").map((e) => ({ actor: e.actor, ...JSON.parse(e.details) }));
    expect(summaries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: "labeler", action: "http.refused", count: 50 }),
        expect.objectContaining({ actor: "anonymous", action: "http.refused", count: 20 }),
      ]),
    );
    expect(summaries).toHaveLength(2);
    expect(await verifyAuditOffline({ dataDir: dir.path })).toMatchObject({ ok: true, problem: null });
  });
});

describe("MQTT ACL violations in the audit log (sqlite)", () => {
  let t: TestHub;
  const secrets: Record<string, string> = {};
  beforeAll(async () => {
    t = await startHub();
    const p = await t.call<{ id: string }>("POST", "/api/v1/projects", {
      body: { slug: "acl", name: "ACL", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    for (const id of ["cam-a", "cam-b"]) {
      const e = await t.call<{ secret: string }>("POST", "/api/v1/devices", { body: { projectId: p.json.id, id } });
      secrets[id] = e.json.secret;
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it("records a refused subscribe, a refused publish and a failed authentication, naming who and what", async () => {
    const a = await connectDevice(t.mqttUrl, "cam-a", secrets["cam-a"]!);
    try {
      expect(await subscribeQos(a, topics.desired("cam-b"))).toBe(128);
      const closed = new Promise<void>((r) => a.once("close", () => r()));
      a.publish(topics.events("cam-b"), "{}", { qos: 1 });
      await closed;
    } finally {
      await a.endAsync(true);
    }
    await expect(connectDevice(t.mqttUrl, "cam-b", "not-the-secret")).rejects.toThrow();

    const find = async (action: string) => {
      const page = await t.call<{ items: Array<Record<string, unknown>> }>("GET", `/api/v1/audit?action=${action}`);
      return page.json.items;
    };
    await waitFor("three refusals recorded", async () => (await find("mqtt.auth_failed")).length === 1, {
      timeoutMs: 5000,
    });
    expect(await find("mqtt.subscribe_refused")).toEqual([
      expect.objectContaining({
        actor: "cam-a",
        actorKind: "device",
        targetType: "topic",
        targetId: topics.desired("cam-b"),
        ip: "127.0.0.1",
      }),
    ]);
    expect(await find("mqtt.publish_refused")).toEqual([
      expect.objectContaining({ actor: "cam-a", actorKind: "device", targetId: topics.events("cam-b") }),
    ]);
    expect((await find("mqtt.auth_failed"))[0]).toMatchObject({
      actor: "cam-b",
      actorKind: "anonymous",
      ip: "127.0.0.1",
      details: expect.objectContaining({ reason: "bad credentials" }),
    });
    const metrics = (await t.call<string>("GET", "/metrics")).json;
    expect(metrics).toContain('kensa_audit_refusals_total{action="mqtt.publish_refused",outcome="recorded"} 1');
  });
});

describe("the refusal limit under a flood from many sources", () => {
  it("writes at most perWindow entries one by one and one summary per tracked source, whatever the sources", async () => {
    const dir = await tempDir("kensa-audit-flood-");
    const store = await openDatabase(parseHubConfig({ dataDir: dir.path }));
    try {
      let now = 1_000_000;
      const audit = new AuditLog(store.db);
      const refusals = new AuditRefusals(
        (r) => audit.record(r),
        { perKey: 3, maxKeys: 5, perWindow: 10, windowMs: 60_000 },
        () => now,
      );
      for (let ip = 0; ip < 50; ip++) {
        for (let k = 0; k < 4; k++) {
          refusals.offer({ action: "http.refused", actor: "anonymous", actorKind: "anonymous", ip: `10.0.0.${ip}` });
        }
      }
      await refusals.idle();
      expect(refusals.counters["http.refused"]).toEqual({ recorded: 10, suppressed: 190 });
      now += 60_000;
      refusals.flush(false);
      await refusals.idle();
      const rows = await store.db.selectFrom("audit_log").selectAll().execute();
      const summaries = rows.filter((r) => r.action === "audit.suppressed");
      expect(rows.filter((r) => r.action === "http.refused")).toHaveLength(10);
      // ip 0–4 were tracked, every later address shares the "*" bucket
      expect(summaries).toHaveLength(6);
      expect(summaries.reduce((n, r) => n + (JSON.parse(r.details) as { count: number }).count, 0)).toBe(190);
      expect(summaries.find((r) => r.actor === "*")).toBeTruthy();
      // a new window records again
      refusals.offer({ action: "http.refused", actor: "anonymous", actorKind: "anonymous", ip: "10.0.0.1" });
      await refusals.idle();
      expect(refusals.counters["http.refused"].recorded).toBe(11);
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});
