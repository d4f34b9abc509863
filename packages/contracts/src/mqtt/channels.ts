import type { TSchema } from "@sinclair/typebox";
import { Desired, Event, EventAcks, Presence, Reported, Telemetry } from "./payloads.js";
import { type DeviceChannel, TOPIC_ROOT } from "./topics.js";

/** One MQTT channel of protocol v1: who publishes on it, how, and what each message holds. */
export interface ChannelSpec {
  /** the topic with its parameter: `kensa/v1/devices/{deviceId}/events` */
  address: string;
  /** who publishes: a device (the hub subscribes) or the hub (the device subscribes) */
  publisher: "device" | "hub";
  qos: 0 | 1;
  retained: boolean;
  summary: string;
  payload: TSchema;
}

const address = (channel: DeviceChannel) => `${TOPIC_ROOT}/{deviceId}/${channel}`;

/** Every channel of the device protocol; `topics` builds their topic strings, AsyncAPI describes them. */
export const mqttChannels: Readonly<Record<DeviceChannel, ChannelSpec>> = {
  presence: {
    address: address("presence"),
    publisher: "device",
    qos: 1,
    retained: true,
    summary: 'The device is online; its will publishes "offline" when the connection drops.',
    payload: Presence,
  },
  desired: {
    address: address("desired"),
    publisher: "hub",
    qos: 1,
    retained: true,
    summary: "What the device should run: a bundle per pipeline (URL, sha256, model version), from the hub.",
    payload: Desired,
  },
  reported: {
    address: address("reported"),
    publisher: "device",
    qos: 1,
    retained: false,
    summary: "What the device runs now: loaded bundles per pipeline, errors of the last update, health.",
    payload: Reported,
  },
  events: {
    address: address("events"),
    publisher: "device",
    qos: 1,
    retained: false,
    summary:
      "One inference result on one frame, with a stable id and a gap-free per-device sequence; the hub stores it idempotently and raises incidents.",
    payload: Event,
  },
  telemetry: {
    address: address("telemetry"),
    publisher: "device",
    qos: 0,
    retained: false,
    summary: "Frames per second, latency percentiles, queue depths and disk use, every few seconds.",
    payload: Telemetry,
  },
  acks: {
    address: address("acks"),
    publisher: "hub",
    qos: 0,
    retained: false,
    summary:
      "The hub's confirmation of events it has committed or refused for good, by seq; the device deletes an event only on it and publishes again what stays unconfirmed.",
    payload: EventAcks,
  },
};
