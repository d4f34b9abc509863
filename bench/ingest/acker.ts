/**
 * The bare broker's stand-in for a hub: receives every event (QoS 1) and at once publishes the
 * confirmation a hub would (`{v:1, stored:[seq], rejected:[]}` on the device's acks topic), storing
 * nothing. `node --import tsx acker.ts <mqtt url>`.
 */
import { type EventAcks, parseDeviceTopic, topics } from "@kensa/contracts";
import mqtt from "mqtt";

export type AckerMessage = { type: "ready"; pid: number };

const client = mqtt.connect(process.argv[2] ?? "", { clientId: `bench-acker-${process.pid}`, clean: true });
client.on("message", (topic, payload) => {
  const parsed = parseDeviceTopic(topic);
  if (parsed?.channel !== "events") return;
  const { seq } = JSON.parse(payload.toString("utf8")) as { seq: number };
  const ack: EventAcks = { v: 1, stored: [seq], rejected: [] };
  client.publish(topics.acks(parsed.deviceId), JSON.stringify(ack), { qos: 0 });
});
client.once("connect", () => {
  client.subscribe(topics.allDevices("events"), { qos: 1 }, () => process.send?.({ type: "ready", pid: process.pid }));
});
const close = () => client.end(false, () => process.exit(0));
process.on("message", (m: { type?: string }) => m.type === "close" && close());
process.on("disconnect", close);
