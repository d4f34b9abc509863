import type { HubConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { DeviceAccountSource } from "./dynsec-types.js";
import { MosquittoDynsec } from "./mosquitto-dynsec.js";

/**
 * The manager of device accounts on an external Mosquitto, when the config enables dynamic
 * security there (the hub connects to it as the dynsec admin), else null.
 */
export function dynsecFromConfig(
  mqtt: HubConfig["mqtt"],
  devices: DeviceAccountSource,
  log: Logger,
): MosquittoDynsec | null {
  const ds = mqtt.dynsec;
  if (!ds.enabled) return null;
  return new MosquittoDynsec({
    url: mqtt.url ?? "",
    adminUsername: ds.adminUsername ?? "",
    adminPassword: ds.adminPassword ?? "",
    hubUsername: mqtt.username ?? "",
    hubPassword: mqtt.password ?? "",
    devices,
    log,
    retryMs: ds.retryMs,
    timeoutMs: ds.timeoutMs,
  });
}
