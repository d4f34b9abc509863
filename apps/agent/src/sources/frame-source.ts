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
}

export interface FrameSourceEvents {
  frame: [frame: Frame];
  /** a recoverable failure (KENSA_ERR_SOURCE_FAILED); the source keeps trying */
  error: [error: KensaError];
  /** the source will produce no more frames (a folder without `loop`) */
  end: [];
}

export type SourceStatus = "idle" | "running" | "error" | "ended" | "stopped";

/**
 * Port for everything that yields frames. Sources pace themselves in real time and never
 * wait for inference: a slow model drops frames, it does not slow the camera.
 */
export interface FrameSource extends EventEmitter<FrameSourceEvents> {
  readonly id: string;
  readonly type: string;
  readonly status: SourceStatus;
  /** the last error while status is "error" */
  readonly lastError: KensaError | undefined;
  start(): void;
  /** Stops producing; resolves once no frame will be emitted any more. */
  stop(): Promise<void>;
}
