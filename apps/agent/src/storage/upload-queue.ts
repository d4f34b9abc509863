/** One file waiting for upload. */
export interface UploadRow {
  /** the row's key: event id (media), capture id (captures), file name (clips) */
  key: string;
  /** file name inside the queue's `dir` */
  file: string;
  attempts: number;
}

/** How an upload ended for good: accepted, refused (a 4xx that will never pass), or its file vanished. */
export type UploadOutcome = "uploaded" | "refused" | "missing";

/** Backoff between tries of one row: doubling from `baseMs` up to `maxMs`, with jitter. */
export interface RetryPolicy {
  /** ms before the second try */
  baseMs: number;
  /** ms, the ceiling */
  maxMs: number;
}

/** Port of a durable upload queue (file + row) the HttpUploader drains; DurableSpool implements it. */
export interface UploadQueue<R extends UploadRow = UploadRow> {
  readonly dir: string;
  /** rows ready for upload at `now` (ms epoch), oldest first */
  due(now: number, limit: number): R[];
  /** ms epoch of the earliest deferred row, if any */
  nextDueAt(): number | undefined;
  done(row: R, outcome: UploadOutcome): Promise<void>;
  /** Counts a failed try and defers the row by the policy's backoff; returns the delay in ms. */
  retry(row: R, policy: RetryPolicy): number;
  /** makes every deferred row due now (the link came back: the hub probably did too) */
  retryNow(): void;
  /** rows waiting for upload */
  depth(): number;
}
