import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Event, topics } from "@kensa/contracts";
import { tempDir, waitFor } from "@kensa/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Logger } from "../src/logger.js";
import { openAgentDb } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { type EventDraft, Outbox } from "../src/storage/outbox.js";
import { MqttLink } from "../src/uplink/mqtt-link.js";
import { OutboxPublisher } from "../src/uplink/publisher.js";
import { startBroker } from "./helpers/broker.js";
import { watchDevice } from "./helpers/watcher.js";

const quiet = new Logger("error");
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);

function draft(i: number, finding = false): EventDraft {
  return {
    deviceId: "cam-1",
    pipeline: "default",
    sourceId: "test",
    ts: new Date().toISOString(),
    bundle: { sha256: "a".repeat(64), modelVersionId: "m1" },
    frame: { width: 320, height: 240, meta: { i } },
    result: { task: "classification", label: finding ? "defect" : "ok", score: 0.9, scores: {}, finding },
    latencyMs: { preprocess: 1, inference: 2, total: 3 },
  };
}

describe("outbox", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it("assigns gap-free seqs that continue across reopen, with media in the same transaction", async () => {
    const mediaDir = join(dir.path, "media");
    let db = openAgentDb(dir.path);
    let outbox = new Outbox(db, new MediaQueue(db, mediaDir));
    const first = [await outbox.append(draft(1)), await outbox.append(draft(2), jpeg), await outbox.append(draft(3))];
    expect(first.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(first.map((e) => e.media)).toEqual([false, true, false]);
    expect(new Set(first.map((e) => e.id)).size).toBe(3);
    expect(existsSync(join(mediaDir, `${first[1]?.id}.jpg`))).toBe(true);
    outbox.remove([1, 2]);
    db.close();

    db = openAgentDb(dir.path);
    outbox = new Outbox(db, new MediaQueue(db, mediaDir));
    const next = [await outbox.append(draft(4)), await outbox.append(draft(5))];
    expect(next.map((e) => e.seq)).toEqual([4, 5]);
    expect(outbox.peek(0, 10).map((r) => r.seq)).toEqual([3, 4, 5]);
    expect(JSON.parse(outbox.peek(3, 1)[0]?.payload ?? "{}")).toMatchObject({ v: 1, seq: 4, id: next[0]?.id });
    expect(new MediaQueue(db, mediaDir).depth()).toBe(1);
    db.close();
  });

  it("startup reaps temp files, files without a row and rows without a file", async () => {
    const mediaDir = join(dir.path, "media");
    const db = openAgentDb(dir.path);
    const outbox = new Outbox(db, new MediaQueue(db, mediaDir));
    const kept = await outbox.append(draft(1), jpeg);
    const lost = await outbox.append(draft(2), jpeg);
    rmSync(join(mediaDir, `${lost.id}.jpg`));
    writeFileSync(join(mediaDir, "orphan.jpg"), jpeg);
    writeFileSync(join(mediaDir, "half.jpg.123.abc.tmp"), jpeg.subarray(0, 3));
    const media = new MediaQueue(db, mediaDir);
    expect(await media.reap()).toEqual({ files: 2, rows: 1 });
    expect(readdirSync(mediaDir)).toEqual([`${kept.id}.jpg`]);
    expect(media.depth()).toBe(1);
    db.close();
  });

  it("with a hub that does not confirm, deletes rows only after the broker acked them: they pile up while it is down and flush in order after", async () => {
    const broker = await startBroker({ "cam-1": "secret", hub: "hub" });
    const watcher = await watchDevice(broker.url, "cam-1", "hub", "hub");
    const db = openAgentDb(dir.path);
    const outbox = new Outbox(db, new MediaQueue(db, join(dir.path, "media")));
    const link = new MqttLink({
      url: broker.url,
      deviceId: "cam-1",
      secret: "secret",
      agentVersion: "test",
      logger: quiet,
      reconnectMinMs: 100,
      reconnectMaxMs: 300,
    });
    const publisher = new OutboxPublisher(outbox, link, { deviceId: "cam-1", logger: quiet, window: 8 });
    // what a desired state without `eventAcks` sets
    publisher.setMode("broker");
    let appended = 0;
    const producer = setInterval(() => {
      void outbox.append(draft(++appended));
    }, 10);
    try {
      publisher.start();
      link.start();
      await waitFor("events to flow", () => watcher.events.length >= 20);

      await broker.stop();
      const atStop = appended;
      await waitFor("the link to notice", () => !link.connected);
      await waitFor("events to accumulate offline", () => appended >= atStop + 30);
      // nothing appended after the broker went away has left the outbox
      expect(outbox.depth()).toBeGreaterThanOrEqual(appended - atStop);

      await broker.restart();
      await waitFor("the link to reconnect", () => link.connected, { timeoutMs: 10_000 });
      clearInterval(producer);
      const total = appended;
      await waitFor(
        "the outbox to drain",
        () => outbox.depth() === 0 && new Set(watcher.events.map((e) => e.id)).size >= total,
        {
          timeoutMs: 15_000,
        },
      );
      // what the broker received from the device, in arrival order (subscriber-side order is
      // the broker's business: it redelivers its own in-flight messages after a restart)
      const sent = broker.received
        .filter((r) => r.topic === topics.events("cam-1"))
        .map((r) => JSON.parse(r.payload.toString()) as Event);
      const firstSightings = [...new Set(sent.map((e) => e.seq))];
      expect(firstSightings).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(new Set(sent.map((e) => e.id)).size).toBe(total);
      // and the subscriber got every one of them
      expect(new Set(watcher.events.map((e) => e.id)).size).toBe(total);
    } finally {
      clearInterval(producer);
      publisher.stop();
      await link.close(200);
      await watcher.close();
      await broker.close();
      db.close();
    }
  });

  it("deletes a row only on the hub's word: unconfirmed events go out again, refused ones are deleted and counted", async () => {
    const broker = await startBroker({ "cam-1": "secret", hub: "hub" });
    const watcher = await watchDevice(broker.url, "cam-1", "hub", "hub");
    const db = openAgentDb(dir.path);
    const outbox = new Outbox(db, new MediaQueue(db, join(dir.path, "media")));
    const link = new MqttLink({
      url: broker.url,
      deviceId: "cam-1",
      secret: "secret",
      agentVersion: "test",
      logger: quiet,
    });
    const rejected: number[] = [];
    const publisher = new OutboxPublisher(outbox, link, {
      deviceId: "cam-1",
      logger: quiet,
      window: 4,
      hubAckTimeoutMs: 300,
      onRejected: (r) => rejected.push(...r.map((x) => x.seq)),
    });
    try {
      for (let i = 1; i <= 6; i++) await outbox.append(draft(i));
      publisher.start();
      link.start();
      await waitFor("the first window out", () => new Set(watcher.events.map((e) => e.seq)).size >= 4);
      // the broker took them all, and the window holds: nothing beyond 4 goes out unconfirmed
      await new Promise((r) => setTimeout(r, 100));
      expect(new Set(watcher.events.map((e) => e.seq))).toEqual(new Set([1, 2, 3, 4]));
      expect(outbox.depth()).toBe(6);

      // the hub commits 1 and 3 and refuses 2; 4 stays unconfirmed
      await watcher.confirm([1, 3], [{ seq: 2, code: "KENSA_ERR_MQTT_PAYLOAD_INVALID", reason: "test" }]);
      await waitFor("1, 2, 3 deleted", () => outbox.peek(0, 10)[0]?.seq === 4);
      expect(rejected).toEqual([2]);
      // 4 was never confirmed: it goes out again after the timeout, beside 5 and 6
      await waitFor("4 sent again", () => watcher.events.filter((e) => e.seq === 4).length >= 2, { timeoutMs: 5000 });
      await waitFor("5 and 6 sent", () => watcher.events.some((e) => e.seq === 6));
      expect(outbox.peek(0, 10).map((r) => r.seq)).toEqual([4, 5, 6]);

      // a confirmation that answers an older publish still releases; a switch to a hub that
      // does not confirm releases what the broker took
      await watcher.confirm([4]);
      await waitFor("4 deleted", () => outbox.peek(0, 10)[0]?.seq === 5);
      publisher.setMode("broker");
      await waitFor("the outbox empty", () => outbox.depth() === 0);
    } finally {
      publisher.stop();
      await link.close(200);
      await watcher.close();
      await broker.close();
      db.close();
    }
  });
});
