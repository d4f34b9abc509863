import type { Event } from "@kensa/contracts";
import type { Pipeline } from "../inference/pipeline.js";
import type { Frame } from "../sources/frame-source.js";
import type { SourceSet } from "../sources/source-set.js";
import { type Annotation, annotateFrame, annotationOf } from "./annotate.js";

/** ms a result stays on the page after the camera moved on without inference */
const resultFreshMs = 5000;

/**
 * The newest frame per source for the status page, with its result drawn on. Frames are
 * annotated only when someone asks (the page polls a few times a second at most), never in
 * the inference path, and the JPEG is cached until a newer frame arrives.
 */
export class LatestFrames {
  readonly #sources: SourceSet;
  readonly #inferred = new Map<string, { frame: Frame; event: Event }>();
  readonly #cache = new Map<string, { frame: Frame; jpeg: Promise<Buffer> }>();
  readonly #pipelines: readonly Pipeline[];
  readonly #onInferred = (event: Event, frame: Frame) => this.#inferred.set(frame.sourceId, { frame, event });

  constructor(sources: SourceSet, pipelines: readonly Pipeline[]) {
    this.#sources = sources;
    this.#pipelines = pipelines;
    for (const p of pipelines) p.on("inferred", this.#onInferred);
  }

  close(): void {
    for (const p of this.#pipelines) p.off("inferred", this.#onInferred);
  }

  /** The latest annotated JPEG of a source, or undefined before its first frame. */
  jpeg(sourceId: string): Promise<Buffer> | undefined {
    const entry = this.#sources.get(sourceId);
    const raw = entry?.latest;
    if (!entry || !raw) return undefined;
    const inferred = this.#inferred.get(sourceId);
    const fresh = inferred && raw.capturedAt.getTime() - inferred.frame.capturedAt.getTime() <= resultFreshMs;
    const frame = fresh ? inferred.frame : raw;
    const cached = this.#cache.get(sourceId);
    if (cached?.frame === frame) return cached.jpeg;
    const loaded = this.#pipelines.find((p) => p.id === entry.pipelineId)?.loaded;
    const annotation: Annotation = fresh
      ? annotationOf(inferred.event.result)
      : { text: loaded ? "not inferred (sampled out or busy)" : "no model loaded", finding: undefined, boxes: [] };
    const jpeg = annotateFrame(frame.image, annotation);
    jpeg.catch(() => this.#cache.delete(sourceId));
    this.#cache.set(sourceId, { frame, jpeg });
    return jpeg;
  }
}
