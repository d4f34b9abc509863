/** One file waiting for upload. */
export interface UploadRow {
  /** the row's key: event id (media), capture id (captures) */
  key: string;
  /** file name inside the queue's `dir` */
  file: string;
  attempts: number;
}

/** How an upload ended for good: accepted, refused (a 4xx that will never pass), or its file vanished. */
export type UploadOutcome = "uploaded" | "refused" | "missing";

/** Port of a durable upload queue (file + row) the HttpUploader drains. */
export interface UploadQueue<R extends UploadRow = UploadRow> {
  readonly dir: string;
  /** rows ready for upload at `now` (ms epoch), oldest first */
  due(now: number, limit: number): R[];
  /** ms epoch of the earliest deferred row, if any */
  nextDueAt(): number | undefined;
  done(row: R, outcome: UploadOutcome): Promise<void>;
  defer(row: R, attempts: number, nextAt: number): void;
  /** makes every deferred row due now (the link came back: the hub probably did too) */
  retryNow(): void;
  /** rows waiting for upload */
  depth(): number;
}
