/** ms to wait before retry `attempt` (1-based): doubling from `baseMs`, capped, ±20 % jitter. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const ms = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

/** HTTP statuses worth retrying: the server may answer differently later. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
