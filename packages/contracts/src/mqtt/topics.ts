/** MQTT topics of protocol v1. Every topic string is built or parsed here, nowhere else. */
export const TOPIC_ROOT = "kensa/v1/devices";

/**
 * Topics of the hub's own, never a device's: a hub replica probes below it whether the broker
 * honours shared subscriptions (a message to itself through its group).
 */
export const HUB_TOPIC_ROOT = "kensa/v1/hub";

export const deviceChannels = ["presence", "desired", "reported", "events", "telemetry", "acks"] as const;
export type DeviceChannel = (typeof deviceChannels)[number];

/** Channels a device publishes on (the hub publishes `desired` and `acks`). */
export const devicePublishChannels: readonly DeviceChannel[] = ["presence", "reported", "events", "telemetry"];

export const topics = {
  presence: (deviceId: string) => `${TOPIC_ROOT}/${deviceId}/presence`,
  desired: (deviceId: string) => `${TOPIC_ROOT}/${deviceId}/desired`,
  reported: (deviceId: string) => `${TOPIC_ROOT}/${deviceId}/reported`,
  events: (deviceId: string) => `${TOPIC_ROOT}/${deviceId}/events`,
  telemetry: (deviceId: string) => `${TOPIC_ROOT}/${deviceId}/telemetry`,
  /** the hub's word that events are committed (or refused for good): the device deletes on it */
  acks: (deviceId: string) => `${TOPIC_ROOT}/${deviceId}/acks`,
  /** Everything devices publish, for the hub's ingest subscription. */
  allDevices: (channel: DeviceChannel | "+") => `${TOPIC_ROOT}/+/${channel}`,
  /** where a hub client with this id probes its broker for shared subscriptions */
  hubProbe: (clientId: string) => `${HUB_TOPIC_ROOT}/probe/${clientId}`,
  /** The prefix a device may touch. */
  devicePrefix: (deviceId: string) => `${TOPIC_ROOT}/${deviceId}/`,
} as const;

/** Device ids are used in topics, so they may not contain MQTT wildcards or separators. */
export const DEVICE_ID_PATTERN = "^[a-z0-9][a-z0-9-]{0,62}$";
const deviceIdRe = new RegExp(DEVICE_ID_PATTERN);

export function isValidDeviceId(id: string): boolean {
  return deviceIdRe.test(id);
}

export function parseDeviceTopic(topic: string): { deviceId: string; channel: DeviceChannel } | null {
  const parts = topic.split("/");
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}/${parts[2]}` !== TOPIC_ROOT) return null;
  const deviceId = parts[3] ?? "";
  const channel = parts[4] as DeviceChannel;
  if (!isValidDeviceId(deviceId) || !deviceChannels.includes(channel)) return null;
  return { deviceId, channel };
}
