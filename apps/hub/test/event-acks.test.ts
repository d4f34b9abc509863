import { type Device, type EventAcks, type HubHealth, topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { sql } from "kysely";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

/**
 * The hub's side of end-to-end delivery: it confirms an event on the device's `acks` topic only
 * after the commit, keeps what it refuses for good (and says so), confirms nothing while its
 * database fails (and says that in /health and /metrics), and shows a gap in a device's seq.
 */
describe("event confirmations", () => {
  let t: TestHub;
  let device: MqttClient;
  const acks: EventAcks[] = [];
  const stored = () => acks.flatMap((a) => a.stored);
  const rejected = () => acks.flatMap((a) => a.rejected);

  beforeAll(async () => {
    t = await startHub();
    const { secrets } = await seed(t.call, "acks", [{ id: "ack-cam" }, { id: "ack-gap" }]);
    device = await connectDevice(t.mqttUrl, "ack-cam", secrets["ack-cam"] ?? "");
    device.on("message", (topic, payload) => {
      if (topic === topics.acks("ack-cam")) acks.push(JSON.parse(payload.toString()) as EventAcks);
    });
    await device.subscribeAsync(topics.acks("ack-cam"), { qos: 0 });
    // the desired state tells the device that this hub confirms
    const desired = await new Promise<string>((resolve) => {
      device.on("message", (topic, payload) => {
        if (topic === topics.desired("ack-cam")) resolve(payload.toString());
      });
      void device.subscribeAsync(topics.desired("ack-cam"), { qos: 1 });
    });
    expect(JSON.parse(desired)).toMatchObject({ eventAcks: "hub" });
  });
  afterAll(async () => {
    await device?.endAsync(true);
    await t?.close();
  });

  const metricsText = async () =>
    (await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.hub.adminToken}` } })).text();
  const publish = (body: unknown) =>
    device.publishAsync(topics.events("ack-cam"), typeof body === "string" ? body : JSON.stringify(body), { qos: 1 });

  it("confirms stored events and replays, and refuses for good what can never be stored, keeping it", async () => {
    const a = makeEvent("ack-cam", { seq: 1 });
    const b = makeEvent("ack-cam", { seq: 2 });
    await publish(a);
    await publish(b);
    await publish({ ...makeEvent("ack-cam", { seq: 3 }), v: 2 });
    await publish(makeEvent("ack-gap", { seq: 4 })); // names another device than its topic
    await publish("not json"); // cannot be named back: counted only
    await waitFor("confirmations", () => stored().length >= 2 && rejected().length >= 2, { timeoutMs: 5000 });
    expect(stored().sort()).toEqual([1, 2]);
    expect(rejected().map((r) => [r.seq, r.code])).toEqual([
      [3, "KENSA_ERR_MQTT_PAYLOAD_INVALID"],
      [4, "KENSA_ERR_FORBIDDEN"],
    ]);
    const kept = await t.hub.store.db
      .selectFrom("rejected_events")
      .select(["seq", "code", "payload"])
      .where("device_id", "=", "ack-cam")
      .orderBy("seq")
      .execute();
    expect(kept.map((r) => [Number(r.seq), r.code])).toEqual([
      [3, "KENSA_ERR_MQTT_PAYLOAD_INVALID"],
      [4, "KENSA_ERR_FORBIDDEN"],
    ]);
    expect(JSON.parse(kept[0]?.payload ?? "{}")).toMatchObject({ v: 2, seq: 3 });
    expect(t.hub.ingest.counters).toMatchObject({ stored: 2, rejected: 2 });

    // a replay is confirmed again and stored once
    await publish(a);
    await waitFor("replay confirmed", () => stored().filter((s) => s === 1).length === 2, { timeoutMs: 5000 });
    expect(t.hub.ingest.counters.duplicates).toBe(1);
  });

  it("confirms nothing while the database cannot store, says so, and stores what the device sends again", async () => {
    const db = t.hub.store.db;
    const pages = Number((await sql<{ page_count: number }>`PRAGMA page_count`.execute(db)).rows[0]?.page_count);
    // the hub's own connection may not grow its file: SQLite answers SQLITE_FULL, as on a full disk
    await sql.raw(`PRAGMA max_page_count = ${pages}`).execute(db);
    const before = acks.length;
    const events = Array.from({ length: 200 }, (_, i) => makeEvent("ack-cam", { seq: 10 + i }));
    try {
      for (const e of events) await publish(e);
      const health = await waitFor("degraded", async () => {
        const h = (await t.call<HubHealth>("GET", "/health", { auth: null })).json;
        return h.status === "degraded" ? h : null;
      });
      expect(health.problems[0]).toMatchObject({ code: "KENSA_ERR_INGEST_STORAGE_FAILED" });
      expect(health.problems[0]?.message).toMatch(/full/);
      await t.hub.ingest.idle();
      const unconfirmed = acks.slice(before).flatMap((a) => a.stored);
      expect(events.filter((e) => !unconfirmed.includes(e.seq)).length).toBeGreaterThan(0);
      expect(t.hub.ingest.counters.storeFailed).toBeGreaterThan(0);
      expect(await metricsText()).toMatch(/kensa_ingest_storage_failing 1/);
    } finally {
      await sql.raw("PRAGMA max_page_count = 1073741823").execute(db);
    }
    // the device sends again what was not confirmed; all of it is stored once
    const confirmedNow = new Set(acks.flatMap((a) => a.stored));
    for (const e of events) if (!confirmedNow.has(e.seq)) await publish(e);
    await waitFor("all confirmed", () => events.every((e) => stored().includes(e.seq)), { timeoutMs: 10_000 });
    const h = (await t.call<HubHealth>("GET", "/health", { auth: null })).json;
    expect(h.status).toBe("ok");
    const rows = await t.hub.store.db
      .selectFrom("events")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("device_id", "=", "ack-cam")
      .where("seq", ">=", 10)
      .executeTakeFirst();
    expect(Number(rows?.n)).toBe(events.length);
  });

  it("shows a gap in a device's sequence on the device and in /metrics", async () => {
    const d0 = (await t.call<Device>("GET", "/api/v1/devices/ack-cam")).json;
    // 1, 2 and 10..209 stored; 3 and 4 refused (a real agent reports those, which closes that
    // part of the gap); 5..9 never sent
    expect(d0.events).toEqual({ stored: 202, maxSeq: 209, missing: 7 });
    expect(await metricsText()).toMatch(/kensa_device_events_missing\{device="ack-cam"\} 7/);
  });
});
