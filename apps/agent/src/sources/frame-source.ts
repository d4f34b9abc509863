import type { EventEmitter } from "node:events";
import type { KensaError } from "@kensa/contracts";

export type FrameMetaValue = string | number | boolean | null;

/** One captured, still-encoded frame. */
export interface Frame {
  sourceId: string;
  /** capture time */
  capturedAt: Date;
  /** JPEG or PNG bytes */
  image: Uint8Array;
  meta: Record<string, FrameMetaValue>;
  /**
   * Wait in the pipeline's bounded queue instead of being dropped while it is busy: one frame
   * per part (push, folder-watch) matters, one frame of a live camera does not.
   */
  queue?: boolean;
  /** Called once the pipeline is through with the frame (lets folder-watch move a file only after its event is stored). */
  onSettled?: (outcome: FrameOutcome) => void;
}

/** `stored`: its event is in the outbox; `failed`: the model could not process it; `dropped`/`skipped`: never inferred. */
export type FrameOutcome = "stored" | "failed" | "dropped" | "skipped";

export interface RestartInfo {
  error: KensaError;
  /** restarts of this source so far, this one included */
  restarts: number;
  /** ms until the next attempt */
  delayMs: number;
}

export interface FrameSourceEvents {
  frame: [frame: Frame];
  /** a recoverable failure (KENSA_ERR_SOURCE_*); the source keeps trying */
  error: [error: KensaError];
  /** the source will produce no more frames (a folder without `loop`, a video without `loop`) */
  end: [];
  /** the status changed */
  status: [status: SourceStatus];
  /** no frame arrived within the stall timeout; the input is being restarted */
  stalled: [silentMs: number];
  /** the input failed (process exit, network error, stall) and will be started again */
  restart: [info: RestartInfo];
  /** frames flow again after one or more restarts */
  reconnected: [];
}

/**
 * `starting`: connecting, no frame yet; `error`: failed, retrying with backoff (see
 * `lastError`); `failed`: over the restart budget, retrying slowly.
 */
export type SourceStatus = "idle" | "starting" | "running" | "error" | "failed" | "ended" | "stopped";

/**
 * Port for everything that yields frames. Sources pace themselves in real time and never
 * wait for inference: a slow model drops frames, it does not slow the camera.
 */
export interface FrameSource extends EventEmitter<FrameSourceEvents> {
  readonly id: string;
  readonly type: string;
  readonly status: SourceStatus;
  /** the last error while status is "error" or "failed" */
  readonly lastError: KensaError | undefined;
  start(): void;
  /** Stops producing; resolves once no frame will be emitted any more (and child processes exited). */
  stop(): Promise<void>;
}

/** Whether the pipeline a source feeds can take a queued frame now. */
export type Intake = "ready" | "saturated" | "unloaded";

/** What the composition root hands source factories. */
export interface SourceContext {
  /** the ffmpeg executable (a path, or a name looked up on PATH) */
  ffmpegPath: string;
  /** where child pid files live, so a restarted agent can reap orphans */
  runDir?: string;
  /**
   * The intake of the pipeline this source feeds. Sources whose frames must not be dropped
   * (push, folder-watch) hold back while it is not "ready".
   */
  intake: () => Intake;
}

export const defaultSourceContext: SourceContext = { ffmpegPath: "ffmpeg", intake: () => "ready" };
