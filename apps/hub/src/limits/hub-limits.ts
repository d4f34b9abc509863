import type { LimitsConfig } from "../config/limits-config.js";
import { type ArchiveLimits, archiveLimitsOf } from "./archive-limits.js";
import { EventLimiter } from "./event-limits.js";
import { configureImageLimits } from "./image-gate.js";

/** The `limits` section as the hub's parts take it. */
export interface HubLimits {
  /** for the ingest: event and `frame.meta` byte budgets */
  events: EventLimiter;
  /** for dataset imports: the upload's size and what the archive may hold once opened */
  imports: { maxArchiveBytes: number; archiveLimits: ArchiveLimits };
}

/**
 * Puts the `limits` section in force: the image pixel budget and decode concurrency for this
 * process (decoding memory is the process's), and what the ingest and imports are given. HTTP
 * body limits are read by the app and the routes, the MQTT packet limit by the broker.
 */
export function applyHubLimits(limits: LimitsConfig): HubLimits {
  configureImageLimits({ pixels: limits.imagePixels, decodes: limits.imageDecodes });
  return {
    events: new EventLimiter(limits),
    imports: { maxArchiveBytes: limits.archiveBytes, archiveLimits: archiveLimitsOf(limits) },
  };
}
