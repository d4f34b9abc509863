import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { KensaError } from "@kensa/contracts";
import { imageKind, imageMime, isCompleteImage } from "@kensa/vision";
import type { FrameMetaValue, FrameSource, FrameSourceEvents, SourceContext, SourceStatus } from "./frame-source.js";
import type { PushSourceConfig } from "./source-config.js";

/** A source that accepts frames over HTTP (capability flag, checked by the status server). */
export interface PushTarget {
  readonly acceptsPush: true;
  /** bytes */
  readonly maxBytes: number;
  /** Validates and hands over one image; returns its frame id or throws a KensaError with an HTTP status. */
  push(image: Uint8Array, contentType: string | undefined, meta?: Record<string, FrameMetaValue>): string;
}

export function isPushTarget(source: FrameSource): source is FrameSource & PushTarget {
  return (source as Partial<PushTarget>).acceptsPush === true;
}

/** The declared image MIME type; throws KENSA_ERR_MEDIA_UNSUPPORTED_TYPE (415) for anything but JPEG and PNG. */
export function pushedImageType(contentType: string | undefined): "image/jpeg" | "image/png" {
  const declared = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (declared === "image/jpeg" || declared === "image/png") return declared;
  throw new KensaError(
    "KENSA_ERR_MEDIA_UNSUPPORTED_TYPE",
    `send a JPEG or PNG with Content-Type image/jpeg or image/png, not ${contentType ? `"${contentType}"` : "no content type"}`,
  );
}

/**
 * A triggered line camera (or a PLC) POSTs one image per part to the agent. Every accepted
 * frame is queued for inference, never dropped: the camera gets 202 with the frame id (which
 * the event carries in `frame.meta.frameId`), 429 while the pipeline's queue is full and 503
 * while it has no model, so it can retry or raise an alarm instead of losing parts silently.
 */
export class PushSource extends EventEmitter<FrameSourceEvents> implements FrameSource, PushTarget {
  readonly id: string;
  readonly type = "push";
  readonly acceptsPush = true;
  readonly maxBytes: number;
  readonly lastError: KensaError | undefined = undefined;
  readonly #ctx: SourceContext;
  #status: SourceStatus = "idle";

  constructor(config: PushSourceConfig, ctx: SourceContext) {
    super();
    this.id = config.id;
    this.maxBytes = config.maxBytes;
    this.#ctx = ctx;
  }

  get status(): SourceStatus {
    return this.#status;
  }

  start(): void {
    this.#set("running");
  }

  async stop(): Promise<void> {
    this.#set("stopped");
  }

  push(image: Uint8Array, contentType: string | undefined, meta: Record<string, FrameMetaValue> = {}): string {
    if (this.#status !== "running") {
      throw new KensaError("KENSA_ERR_PIPELINE_NOT_READY", `source ${this.id} is ${this.#status}`);
    }
    const declared = pushedImageType(contentType);
    const kind = imageKind(image);
    if (!kind || imageMime(kind) !== declared) {
      throw new KensaError(
        "KENSA_ERR_MEDIA_INVALID",
        `the body is not a ${declared} image (${image.byteLength} bytes)`,
      );
    }
    if (!isCompleteImage(image)) {
      throw new KensaError("KENSA_ERR_MEDIA_INVALID", `the ${declared} image is truncated (${image.byteLength} bytes)`);
    }
    const intake = this.#ctx.intake();
    if (intake === "unloaded") {
      throw new KensaError(
        "KENSA_ERR_PIPELINE_NOT_READY",
        `the pipeline source ${this.id} feeds has no model loaded yet`,
      );
    }
    if (intake === "saturated") {
      throw new KensaError(
        "KENSA_ERR_PIPELINE_SATURATED",
        `the pipeline source ${this.id} feeds is full; retry shortly`,
      );
    }
    const frameId = randomUUID();
    this.emit("frame", {
      sourceId: this.id,
      capturedAt: new Date(),
      image,
      meta: { ...meta, frameId },
      queue: true,
    });
    return frameId;
  }

  #set(status: SourceStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.emit("status", status);
  }
}
