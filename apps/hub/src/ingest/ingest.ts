import type { HubStats } from "@kensa/contracts";
import { compile, Event, type Incident, Presence, parseDeviceTopic, Reported, Telemetry } from "@kensa/contracts";
import { isoNow } from "../clock.js";
import type { DeviceService } from "../fleet/device-service.js";
import type { EventService } from "../incidents/event-service.js";
import type { Logger } from "../logger.js";

const checkEvent = compile(Event);
const checkPresence = compile(Presence);
const checkReported = compile(Reported);
const checkTelemetry = compile(Telemetry);

/**
 * Everything devices publish passes through here. Every payload is validated; anything wrong
 * is counted and logged and dropped. Nothing a device sends can throw out of `handle`.
 */
/** What ingest counted since the hub started. */
export type IngestCounters = HubStats["ingest"];

export class Ingest {
  readonly counters: IngestCounters = { received: 0, stored: 0, duplicates: 0, invalid: 0, unknownDevice: 0 };
  #devices: DeviceService;
  #events: EventService;
  #log: Logger;
  #onIncident: (incident: Incident) => void;

  /** `onIncident` runs after an incident was raised and committed */
  constructor(devices: DeviceService, events: EventService, log: Logger, onIncident: (incident: Incident) => void) {
    this.#devices = devices;
    this.#events = events;
    this.#log = log;
    this.#onIncident = onIncident;
  }

  async handle(topic: string, payload: Uint8Array): Promise<void> {
    const parsed = parseDeviceTopic(topic);
    // The hub's subscription also sees its own retained `desired` messages.
    if (parsed?.channel === "desired") return;
    this.counters.received++;
    if (!parsed) return this.#invalid(topic, "not a device topic");
    const { deviceId, channel } = parsed;
    try {
      // An empty retained message clears a topic; it carries no state.
      if (payload.byteLength === 0) return;
      const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8");
      const projectId = await this.#devices.projectOf(deviceId);
      if (!projectId) {
        this.counters.unknownDevice++;
        this.#log.warn({ topic }, "mqtt message from an unknown device dropped");
        return;
      }
      // Agents' last will may be the bare word; accept it as the presence it plainly means.
      if (channel === "presence" && (text === "offline" || text === "online")) {
        await this.#devices.setPresence(deviceId, text, text === "online" ? isoNow() : undefined);
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return this.#invalid(topic, "payload is not JSON");
      }
      switch (channel) {
        case "presence": {
          if (!checkPresence.check(body)) return this.#invalid(topic, "presence", checkPresence.issues(body));
          await this.#devices.setPresence(deviceId, body.status, body.status === "online" ? isoNow() : undefined);
          return;
        }
        case "reported": {
          if (!checkReported.check(body)) return this.#invalid(topic, "reported", checkReported.issues(body));
          await this.#devices.setReported(deviceId, body, isoNow());
          return;
        }
        case "telemetry": {
          if (!checkTelemetry.check(body)) return this.#invalid(topic, "telemetry", checkTelemetry.issues(body));
          await this.#devices.setTelemetry(deviceId, body, isoNow());
          return;
        }
        case "events": {
          if (!checkEvent.check(body)) return this.#invalid(topic, "event", checkEvent.issues(body));
          if (body.deviceId !== deviceId) {
            return this.#invalid(topic, `event names device "${body.deviceId}" on another device's topic`);
          }
          const out = await this.#events.ingest(body, projectId);
          if (out.stored) this.counters.stored++;
          else this.counters.duplicates++;
          await this.#devices.touch(deviceId, isoNow());
          if (out.incident) {
            this.#log.info(
              { incidentId: out.incident.id, deviceId, label: out.incident.label, score: out.incident.score },
              "incident raised",
            );
            this.#onIncident(out.incident);
          }
          return;
        }
      }
    } catch (err) {
      // A database hiccup must not kill the MQTT connection; the message is logged, not retried.
      this.#log.error({ topic, err: (err as Error).message }, "ingest failed");
    }
  }

  #invalid(topic: string, what: string, issues?: unknown): void {
    this.counters.invalid++;
    this.#log.warn({ topic, issues }, `invalid mqtt payload dropped: ${what}`);
  }
}
