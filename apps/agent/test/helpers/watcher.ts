import { type Desired, type Event, type EventAcks, type Reported, topics } from "@kensa/contracts";
import { connectAsync, type MqttClient } from "mqtt";

export interface DeviceWatcher {
  client: MqttClient;
  /** every event message received, duplicates included, in arrival order */
  events: Event[];
  reported: Reported[];
  presence: Array<{ status: string }>;
  telemetry: Array<Record<string, unknown>>;
  /** publishes a retained desired state for the device, like the hub */
  setDesired(desired: Desired): Promise<void>;
  /** tells the device, as the hub does after its commit, that these events are stored or refused */
  confirm(stored: number[], rejected?: EventAcks["rejected"]): Promise<void>;
  close(): Promise<void>;
}

/** Connects as the hub would and records everything a device publishes. */
export async function watchDevice(url: string, deviceId: string, user: string, pass: string): Promise<DeviceWatcher> {
  const client = await connectAsync(url, {
    clientId: `watcher-${deviceId}-${Math.random().toString(36).slice(2, 8)}`,
    username: user,
    password: pass,
    reconnectPeriod: 200,
    // a persistent session: messages published while the watcher reconnects are queued for it
    clean: false,
  });
  const w: DeviceWatcher = {
    client,
    events: [],
    reported: [],
    presence: [],
    telemetry: [],
    setDesired: async (desired) => {
      await client.publishAsync(topics.desired(deviceId), JSON.stringify(desired), { qos: 1, retain: true });
    },
    confirm: async (stored, rejected = []) => {
      const acks: EventAcks = { v: 1, stored, rejected };
      await client.publishAsync(topics.acks(deviceId), JSON.stringify(acks), { qos: 0 });
    },
    close: async () => {
      await client.endAsync(true);
    },
  };
  client.on("message", (topic, payload) => {
    const value = JSON.parse(payload.toString("utf8"));
    if (topic === topics.events(deviceId)) w.events.push(value);
    else if (topic === topics.reported(deviceId)) w.reported.push(value);
    else if (topic === topics.presence(deviceId)) w.presence.push(value);
    else if (topic === topics.telemetry(deviceId)) w.telemetry.push(value);
  });
  await client.subscribeAsync(`${topics.devicePrefix(deviceId)}#`, { qos: 1 });
  return w;
}

/** A desired state with one pipeline. */
export function desired(rev: number, bundle: Desired["pipelines"][number]["bundle"], pipeline = "default"): Desired {
  return {
    v: 1,
    rev,
    updatedAt: new Date().toISOString(),
    deploymentId: `d${rev}`,
    pipelines: [{ id: pipeline, bundle }],
  };
}
