// Blob integrity: media waiting for its event, and blob problems found by reads, scrub and fsck.

/** Media (a frame or a clip) stored for an event id the hub did not hold yet. */
export interface EarlyMediaTable {
  event_id: string;
  device_id: string;
  /** "frame" (event_media) or "clip" (event_clips) */
  kind: string;
  received_at: string;
  /** the device's highest stored event seq when the media arrived */
  device_seq: number;
}

/** A blob found corrupt (and quarantined) or referenced while absent. */
export interface BlobProblemsTable {
  sha256: string;
  /** "corrupt" | "missing" */
  problem: string;
  /** "read" | "scrub" | "put" | "fsck" */
  via: string;
  found_at: string;
}
