import { devicePublishChannels, parseDeviceTopic, topics } from "@kensa/contracts";

/** A device may publish only its own presence, reported state, events and telemetry. */
export function mayPublish(deviceId: string, topic: string): boolean {
  const t = parseDeviceTopic(topic);
  return !!t && t.deviceId === deviceId && devicePublishChannels.includes(t.channel);
}

/**
 * A device may subscribe only below its own prefix. A filter starting with the prefix cannot
 * reach another device even with wildcards after it; `$share/…` and bare `#` do not start
 * with it.
 */
export function maySubscribe(deviceId: string, filter: string): boolean {
  const prefix = topics.devicePrefix(deviceId);
  return filter.startsWith(prefix) && filter.length > prefix.length;
}

/** A CONNECT, PUBLISH or SUBSCRIBE the embedded broker refused (the audit log records it). */
export type { MqttRefusal as AclRefusal } from "../people/audit-refusals.js";

/** The peer's address of an MQTT client's connection, when it has one. */
export function remoteAddress(client: { conn?: unknown }): string | null {
  return (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress ?? null;
}
