import { connect, type Socket } from "node:net";
import { type EventAcks, fitFrameMeta, topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PacketSizeScanner } from "../src/limits/mqtt-packet-guard.js";
import { connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

/** MQTT's remaining-length encoding: 7 bits a byte, low first */
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return Buffer.from(out);
}
const str = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
function connectPacket(id: string, user: string, pass: string): Buffer {
  // protocol MQTT 3.1.1, flags: username, password, clean session; keepalive 30 s
  const rest = Buffer.concat([str("MQTT"), Buffer.from([4, 0xc2, 0, 30]), str(id), str(user), str(pass)]);
  return Buffer.concat([Buffer.from([0x10]), varint(rest.length), rest]);
}

describe("MQTT packet size (limits.mqttPacketBytes)", () => {
  it("follows packet boundaries from headers split across chunks, and names the first packet over the limit", () => {
    const s = new PacketSizeScanner(100);
    const small = Buffer.concat([Buffer.from([0x30]), varint(50), Buffer.alloc(50)]);
    const pingreq = Buffer.from([0xc0, 0x00]);
    const big = Buffer.concat([Buffer.from([0x30]), varint(300)]);
    const all = Buffer.concat([small, pingreq, small, big]);
    // every way of cutting the stream in two gives the same answer
    for (let cut = 0; cut <= all.length; cut++) {
      const sc = new PacketSizeScanner(100);
      const first = sc.feed(all.subarray(0, cut));
      const second = first ?? sc.feed(all.subarray(cut));
      expect(second).toBe(1 + 2 + 300);
    }
    expect(s.feed(Buffer.concat([small, pingreq, small]))).toBeNull();
    // a fifth length byte is a protocol error: refused
    expect(new PacketSizeScanner(1 << 30).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});

describe("oversized MQTT payloads and events", () => {
  let t: TestHub;
  let secret = "";
  let device: MqttClient;
  const acks: EventAcks[] = [];
  const rejected = () => acks.flatMap((a) => a.rejected);

  beforeAll(async () => {
    t = await startHub();
    const seeded = await seed(t.call, "limits-mqtt", [{ id: "lim-cam" }]);
    secret = seeded.secrets["lim-cam"] ?? "";
    device = await connectDevice(t.mqttUrl, "lim-cam", secret);
    device.on("message", (topic, payload) => {
      if (topic === topics.acks("lim-cam")) acks.push(JSON.parse(payload.toString()) as EventAcks);
    });
    await device.subscribeAsync(topics.acks("lim-cam"), { qos: 0 });
  });
  afterAll(async () => {
    await device?.endAsync(true);
    await t?.close();
  });

  const metrics = async () =>
    (await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.hub.adminToken}` } })).text();
  const countRows = async (table: "events" | "rejected_events") =>
    Number(
      (
        await t.hub.store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it("closes the connection of a device announcing a 100 MB publish from its header, storing nothing", async () => {
    const port = Number(new URL(t.mqttUrl).port);
    const socket: Socket = connect(port, "127.0.0.1");
    let closed = false;
    socket.on("error", () => {});
    socket.on("close", () => {
      closed = true;
    });
    const connack = new Promise<Buffer>((resolve) => socket.once("data", resolve));
    socket.write(connectPacket("lim-cam-raw", "lim-cam", secret));
    expect([...(await connack)]).toEqual([0x20, 0x02, 0x00, 0x00]);

    const rssBefore = process.memoryUsage().rss;
    const announced = 100 * 1024 * 1024;
    const topic = str(topics.events("lim-cam"));
    socket.write(Buffer.concat([Buffer.from([0x30]), varint(topic.length + announced), topic]));
    // then the payload, 1 MiB at a time, for as long as the hub keeps the connection
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let sent = 0;
    while (!closed && sent < announced) {
      const drained = socket.write(chunk);
      sent += chunk.length;
      if (!drained) await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor("connection closed", () => closed, { timeoutMs: 5000 });
    // the header alone gave it away: the hub read a few socket buffers, never the payload
    expect(sent).toBeLessThan(32 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(await countRows("events")).toBe(0);
    expect(await countRows("rejected_events")).toBe(0);
    expect(await metrics()).toMatch(/kensa_limit_refusals_total\{limit="mqtt_packet"\} [1-9]/);

    // the device itself is not locked out: an ordinary event on another connection is stored
    const ok = makeEvent("lim-cam");
    await device.publishAsync(topics.events("lim-cam"), JSON.stringify(ok), { qos: 1 });
    await waitFor("ordinary event stored", async () => (await countRows("events")) === 1, { timeoutMs: 5000 });
  });

  it("refuses an event over limits.eventBytes unparsed, confirms it as rejected and keeps 4 KiB of it", async () => {
    const big = makeEvent("lim-cam", { seq: 900 });
    big.frame.meta = { blob: "x".repeat(1_500_000) };
    const payload = JSON.stringify(big);
    await device.publishAsync(topics.events("lim-cam"), payload, { qos: 1 });
    await waitFor("rejection confirmed", () => rejected().some((r) => r.seq === 900), { timeoutMs: 5000 });
    expect(rejected().find((r) => r.seq === 900)).toMatchObject({ code: "KENSA_ERR_EVENT_TOO_LARGE" });
    const row = await t.hub.store.db
      .selectFrom("rejected_events")
      .selectAll()
      .where("seq", "=", 900)
      .executeTakeFirstOrThrow();
    expect(row.code).toBe("KENSA_ERR_EVENT_TOO_LARGE");
    expect(row.event_id).toBe(big.id);
    expect(row.reason).toContain(`${Buffer.byteLength(payload)} bytes`);
    expect(Buffer.byteLength(row.payload)).toBeLessThan(4096 + 64);
    expect(row.payload).toContain(`[truncated: ${Buffer.byteLength(payload)} bytes]`);
    expect(await metrics()).toMatch(/kensa_limit_refusals_total\{limit="event_bytes"\} [1-9]/);
  });

  it("refuses frame.meta over limits.metaBytes and fields over their schema bounds, with a code, as rejected", async () => {
    const fat = makeEvent("lim-cam", { seq: 901 });
    fat.frame.meta = {
      note: "y".repeat(1000),
      ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, "z".repeat(900)])),
    };
    const many = makeEvent("lim-cam", { seq: 902 });
    many.result = {
      task: "detection",
      finding: false,
      detections: Array.from({ length: 1001 }, () => ({
        label: "ok",
        score: 0.5,
        box: [0, 0, 1, 1] as [number, number, number, number],
      })),
    };
    const longLabel = makeEvent("lim-cam", { seq: 903, label: "L".repeat(129) });
    for (const e of [fat, many, longLabel])
      await device.publishAsync(topics.events("lim-cam"), JSON.stringify(e), { qos: 1 });
    await waitFor("rejections confirmed", () => [901, 902, 903].every((s) => rejected().some((r) => r.seq === s)), {
      timeoutMs: 5000,
    });
    for (const s of [901, 902, 903]) {
      expect(rejected().find((r) => r.seq === s)?.code).toBe("KENSA_ERR_EVENT_TOO_LARGE");
    }
    expect(rejected().find((r) => r.seq === 901)?.reason).toMatch(/frame\.meta is \d+ bytes.*16384/);
    expect(rejected().find((r) => r.seq === 902)?.reason).toMatch(/\/result\/detections/);
    const kept = await t.hub.store.db
      .selectFrom("rejected_events")
      .select(["seq", "code"])
      .where("seq", "in", [901, 902, 903])
      .execute();
    expect(kept.map((r) => r.code)).toEqual(Array(3).fill("KENSA_ERR_EVENT_TOO_LARGE"));
    // a visible rejection on the device's side too: nothing of these was stored as an event
    const stored = await t.hub.store.db
      .selectFrom("events")
      .select("seq")
      .where("seq", "in", [901, 902, 903])
      .execute();
    expect(stored).toEqual([]);
  });

  it("takes an event whose meta the agent fitted to the budget (fitFrameMeta), naming what was cut", async () => {
    const raw = {
      part: "SN-123",
      station: 4,
      ...Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`q${i}`, "v".repeat(i === 3 ? 5000 : 300)])),
    };
    const fitted = fitFrameMeta(raw);
    expect(fitted.meta.part).toBe("SN-123");
    expect(fitted.meta.station).toBe(4);
    expect(Object.keys(fitted.meta).length).toBeLessThanOrEqual(64);
    expect(Buffer.byteLength(JSON.stringify(fitted.meta))).toBeLessThanOrEqual(16 * 1024);
    expect(fitted.trimmed).toContain("q3");
    expect(fitted.trimmed).toContain("q69");
    expect(fitFrameMeta({ a: 1, b: "x" })).toEqual({ meta: { a: 1, b: "x" }, trimmed: [] });
    const e = makeEvent("lim-cam", { seq: 950 });
    e.frame.meta = fitted.meta;
    await device.publishAsync(topics.events("lim-cam"), JSON.stringify(e), { qos: 1 });
    await waitFor("stored", async () => {
      const row = await t.hub.store.db.selectFrom("events").select("id").where("id", "=", e.id).executeTakeFirst();
      return !!row;
    });
  });

  it("keeps a page of events bounded: ten events at the meta budget list in well under a megabyte", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const e = makeEvent("lim-cam", { seq: 1000 + i });
      // just under 16 KiB of meta (strings of at most 1024 characters), the most an event may carry
      e.frame.meta = Object.fromEntries(Array.from({ length: 15 }, (_, k) => [`k${k}`, "m".repeat(1000)]));
      ids.push(e.id);
      await device.publishAsync(topics.events("lim-cam"), JSON.stringify(e), { qos: 1 });
    }
    await waitFor("stored", async () => (await countRows("events")) >= 11, { timeoutMs: 5000 });
    const res = await fetch(`${t.httpUrl}/api/v1/events?limit=10`, {
      headers: { authorization: `Bearer ${t.hub.adminToken}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const page = JSON.parse(text) as { items: Array<{ id: string }> };
    expect(page.items.length).toBe(10);
    expect(Buffer.byteLength(text)).toBeLessThan(10 * 20 * 1024);
  });
});
