import { type ChannelSpec, mqttChannels } from "../mqtt/channels.js";
import { DEVICE_ID_PATTERN } from "../mqtt/topics.js";
import { jsonSchema } from "./json-schema.js";

type Json = Record<string, unknown>;

const capital = (s: string) => s[0]!.toUpperCase() + s.slice(1);

/**
 * The device protocol (MQTT) as an AsyncAPI 3.0 document, generated from `mqttChannels`. It
 * describes the agent: what a device sends and what it receives.
 */
export function asyncApiDocument(opts: { version: string }): Json {
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};
  for (const [name, ch] of Object.entries(mqttChannels) as Array<[string, ChannelSpec]>) {
    messages[name] = {
      name,
      title: capital(name),
      summary: ch.summary,
      contentType: "application/json",
      payload: jsonSchema(ch.payload),
    };
    channels[name] = {
      address: ch.address,
      title: capital(name),
      summary: ch.summary,
      parameters: {
        deviceId: { description: `The device's id (${DEVICE_ID_PATTERN}); a device may only touch its own topics.` },
      },
      messages: { [name]: { $ref: `#/components/messages/${name}` } },
    };
    const send = ch.publisher === "device";
    operations[`${send ? "send" : "receive"}${capital(name)}`] = {
      action: send ? "send" : "receive",
      channel: { $ref: `#/channels/${name}` },
      summary: send ? `The device publishes ${name}.` : `The device receives ${name} from the hub.`,
      messages: [{ $ref: `#/channels/${name}/messages/${name}` }],
      bindings: { mqtt: { qos: ch.qos, retain: ch.retained, bindingVersion: "0.2.0" } },
    };
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Kensa device protocol",
      version: opts.version,
      description:
        "MQTT between the hub and its devices: QoS 1 for control and events, per-device credentials (the device id and its secret), a device may only touch kensa/v1/devices/{its id}/. Bytes (bundles down, frames and clips up) go over HTTP (see the hub's OpenAPI document). Every payload carries v: 1 and is validated on receipt; a bad payload is counted and logged.",
    },
    defaultContentType: "application/json",
    servers: {
      hub: {
        host: "localhost:1883",
        protocol: "mqtt",
        description: "the hub's embedded broker, or an external broker the hub and its devices share",
      },
    },
    channels,
    operations,
    components: { messages },
  };
}
