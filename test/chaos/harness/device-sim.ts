/**
 * A device as the delivery path sees it: the agent's own durable outbox, MQTT link and
 * publisher (the code a real agent runs), fed by a producer at a fixed rate instead of cameras
 * and a model, so a test can drive hundreds of events per second on a small machine and kill
 * the process anywhere. `node --import tsx device-sim.ts <options JSON>`.
 *
 * IPC: `{type:"stop"}` stops producing; `{type:"status"}` answers `{type:"status", seq, depth}`:
 * the last seq appended (the outbox's gap-free counter, so it survives a kill) and the events
 * still in the outbox.
 */
import { join } from "node:path";
import { compile, Desired } from "@kensa/contracts";
import { Logger } from "../../../apps/agent/src/logger.js";
import { openAgentDb } from "../../../apps/agent/src/storage/agent-db.js";
import { MediaQueue } from "../../../apps/agent/src/storage/media-queue.js";
import { type EventDraft, Outbox } from "../../../apps/agent/src/storage/outbox.js";
import { MqttLink } from "../../../apps/agent/src/uplink/mqtt-link.js";
import { OutboxPublisher } from "../../../apps/agent/src/uplink/publisher.js";

export interface DeviceSimOptions {
  dataDir: string;
  deviceId: string;
  secret: string;
  mqttUrl: string;
  /** events per second */
  rate: number;
  /** ms before an unconfirmed event is published again */
  hubAckTimeoutMs: number;
}

const o = JSON.parse(process.argv[2] ?? "{}") as DeviceSimOptions;
const logger = new Logger((process.env.KENSA_LOG_LEVEL as "error" | undefined) ?? "error");
const db = openAgentDb(o.dataDir);
const outbox = new Outbox(db, new MediaQueue(db, join(o.dataDir, "media")));
const link = new MqttLink({
  url: o.mqttUrl,
  deviceId: o.deviceId,
  secret: o.secret,
  agentVersion: "device-sim",
  logger,
  reconnectMinMs: 100,
  reconnectMaxMs: 1000,
});
const publisher = new OutboxPublisher(outbox, link, {
  deviceId: o.deviceId,
  logger,
  hubAckTimeoutMs: o.hubAckTimeoutMs,
});
const checkDesired = compile(Desired);
link.on("desired", (payload) => {
  const value: unknown = JSON.parse(payload.toString("utf8"));
  if (checkDesired.check(value)) publisher.setMode(value.eventAcks === "hub" ? "hub" : "broker");
});
publisher.start();
link.start();

const lastSeq = db.prepare<[], { value: number }>("SELECT value FROM counters WHERE name = 'event_seq'");
const TICK_MS = 20;
let producing = true;
let owed = 0;
let n = 0;
let last = Date.now();
const tick = setInterval(() => {
  // by the clock, not by ticks: a late timer on a busy machine still keeps the rate
  const now = Date.now();
  const elapsed = now - last;
  last = now;
  if (!producing) return;
  owed += (o.rate * elapsed) / 1000;
  while (owed >= 1) {
    owed--;
    n++;
    // one in a hundred is a finding, so incidents and their notifications are planned too
    const finding = n % 100 === 0;
    const draft: EventDraft = {
      deviceId: o.deviceId,
      pipeline: "default",
      sourceId: "sim",
      ts: new Date().toISOString(),
      bundle: { sha256: "a".repeat(64), modelVersionId: "sim-model" },
      frame: { width: 64, height: 48, meta: { n } },
      result: {
        task: "classification",
        label: finding ? "defect" : "ok",
        score: 0.9,
        scores: { ok: finding ? 0.1 : 0.9, defect: finding ? 0.9 : 0.1 },
        finding,
      },
      latencyMs: { preprocess: 1, inference: 1, total: 2 },
    };
    void outbox.append(draft);
  }
}, TICK_MS);

process.on("message", (m: { type?: string }) => {
  if (m.type === "stop") producing = false;
  if (m.type === "status") {
    process.send?.({
      type: "status",
      seq: lastSeq.get()?.value ?? 0,
      depth: outbox.depth(),
      connected: link.connected,
    });
  }
});
process.on("disconnect", () => {
  clearInterval(tick);
  publisher.stop();
  void link.close(200).finally(() => {
    db.close();
    process.exit(0);
  });
});
