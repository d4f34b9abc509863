let last = 0;

/**
 * Now as ISO-8601 text, strictly increasing within the process, so rows written in the same
 * millisecond still sort in the order they were written (deployments, cooldown windows). Each
 * call within one millisecond moves it 1 ms ahead of the wall clock: use it for writes a
 * person or a schedule makes, never per message of a stream (see `wallNow`).
 */
export function isoNow(): string {
  const t = Math.max(Date.now(), last + 1);
  last = t;
  return new Date(t).toISOString();
}

let lastWall = 0;

/**
 * Now as ISO-8601 text, never going backwards within the process (a wall clock stepped back by
 * NTP repeats the last value instead) and never ahead of the wall clock: for high-rate writes
 * such as ingest, where many rows share a millisecond and order among them comes from their
 * own keys (device, seq).
 */
export function wallNow(): string {
  lastWall = Math.max(Date.now(), lastWall);
  return new Date(lastWall).toISOString();
}
