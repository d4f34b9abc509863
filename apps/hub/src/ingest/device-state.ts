import { compile, Presence, Reported, Telemetry } from "@kensa/contracts";
import { wallNow } from "../clock.js";
import type { DeviceService } from "../fleet/device-service.js";
import { screenShadowAgreements } from "../shadow/shadow-agreement-intake.js";

const checkPresence = compile(Presence);
const checkReported = compile(Reported);
const checkTelemetry = compile(Telemetry);

/** Where valid telemetry goes besides the device row: the hub's telemetry history. */
export interface TelemetrySink {
  record(deviceId: string, telemetry: Telemetry): void;
}

/** What became of a state message: applied, from a device the hub does not know, or invalid. */
export type StateOutcome = "applied" | "unknown-device" | { what: string; issues?: unknown };

/**
 * Presence, reported state and telemetry: the newest replaces what the device row held. Not
 * confirmed to the device (state, not history: the next message replaces a lost one).
 */
export async function applyDeviceState(
  devices: DeviceService,
  deviceId: string,
  channel: string,
  text: string,
  history?: TelemetrySink,
): Promise<StateOutcome> {
  if (!(await devices.projectOf(deviceId))) return "unknown-device";
  // Agents' last will may be the bare word; accept it as the presence it plainly means.
  if (channel === "presence" && (text === "offline" || text === "online")) {
    await devices.setPresence(deviceId, text, text === "online" ? wallNow() : undefined);
    return "applied";
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { what: "payload is not JSON" };
  }
  switch (channel) {
    case "presence":
      if (!checkPresence.check(body)) return { what: "presence", issues: checkPresence.issues(body) };
      await devices.setPresence(deviceId, body.status, body.status === "online" ? wallNow() : undefined);
      return "applied";
    case "reported":
      // a malformed shadow agreement is clamped or dropped, never the whole reported state
      screenShadowAgreements(body);
      if (!checkReported.check(body)) return { what: "reported", issues: checkReported.issues(body) };
      await devices.setReported(deviceId, body, wallNow());
      return "applied";
    case "telemetry":
      if (!checkTelemetry.check(body)) return { what: "telemetry", issues: checkTelemetry.issues(body) };
      await devices.setTelemetry(deviceId, body, wallNow());
      history?.record(deviceId, body);
      return "applied";
    default:
      return { what: `no state channel "${channel}"` };
  }
}
