import {
  type BacktestFrame,
  type BacktestSkipped,
  headlineOf,
  isKensaError,
  type ModelManifest,
  type Rule,
} from "@kensa/contracts";
import { Inferencer, type PreparedFrame } from "@kensa/vision";
import { RuleRunner } from "@kensa/vision/rules";
import type { ArchivedFrame } from "./backtest-frames.js";

/** A frame read and decoded for the model, or why it cannot be replayed. */
type Loaded =
  | { frame: ArchivedFrame; prepared: PreparedFrame }
  | { frame: ArchivedFrame; skip: Pick<BacktestSkipped, "reason" | "detail"> };

/** Where the replay reads frames: the hub's blob store, or the files a `kensa worker` downloaded. null: not there. */
export interface FrameReader {
  get(sha256: string): Promise<Uint8Array | null>;
}

export interface ReplayResult {
  frames: BacktestFrame[];
  skipped: BacktestSkipped[];
  /** ms from the model loaded to the last frame decided */
  durationMs: number;
}

/**
 * Replays archived frames through a model file and the rules its bundle would carry, with the
 * agent's own preprocessing, postprocessing (@kensa/vision's Inferencer) and rule engine, so a
 * backtest decides a frame as a device running the candidate would have. The next frame is read
 * and decoded while this one is inferred (sharp and ONNX Runtime run on different threads).
 * A frame that cannot be replayed is skipped with its reason; a blob store that fails throws.
 */
export async function replayFrames(opts: {
  model: Uint8Array;
  manifest: ModelManifest;
  rules: readonly Rule[];
  frames: readonly ArchivedFrame[];
  blobs: FrameReader;
  signal?: AbortSignal;
}): Promise<ReplayResult> {
  const { manifest, frames, blobs } = opts;
  const inf = await Inferencer.create(opts.model, manifest, { intraOpThreads: 1, spinning: false });
  const runner = new RuleRunner(opts.rules);
  const out: BacktestFrame[] = [];
  const skipped: BacktestSkipped[] = [];
  const t0 = performance.now();

  const load = async (frame: ArchivedFrame): Promise<Loaded> => {
    if (!frame.mediaSha256) {
      return { frame, skip: { reason: "media_not_uploaded", detail: "the device never uploaded this frame" } };
    }
    const bytes = await blobs.get(frame.mediaSha256);
    if (!bytes) {
      return { frame, skip: { reason: "blob_missing", detail: `blob ${frame.mediaSha256} is not in the blob store` } };
    }
    try {
      return { frame, prepared: await inf.prepare(bytes) };
    } catch (err) {
      const detail = isKensaError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
      return { frame, skip: { reason: "undecodable", detail } };
    }
  };

  try {
    let next: Promise<Loaded> | null = frames[0] ? load(frames[0]) : null;
    for (let i = 0; next; i++) {
      const cur = await next;
      next = frames[i + 1] ? load(frames[i + 1] as ArchivedFrame) : null;
      // an abort leaves the read-ahead unawaited: it must not surface as an unhandled rejection
      next?.catch(() => {});
      opts.signal?.throwIfAborted();
      const f = cur.frame;
      if ("skip" in cur) {
        skipped.push({ frameId: f.frameId, kind: f.kind, deviceId: f.deviceId, ts: f.ts, ...cur.skip });
        continue;
      }
      const { result, frame } = await inf.run(cur.prepared);
      const hits = runner.evaluate(
        f.sourceKey,
        { result, frame, labels: manifest.labels, okLabels: manifest.okLabels },
        Date.parse(f.ts),
      );
      const head = headlineOf(result);
      const hit = hits[0];
      out.push({
        frameId: f.frameId,
        kind: f.kind,
        deviceId: f.deviceId,
        ts: f.ts,
        day: f.ts.slice(0, 10),
        incidentId: f.incidentId,
        mediaSha256: f.mediaSha256 as string,
        champion: f.champion,
        candidate: {
          incident: hit !== undefined,
          // as the hub names an agent's incident (incident-service agentRuleHit)
          label: hit?.label ?? head?.label ?? null,
          score: hit?.score ?? head?.score ?? null,
          rule: hit?.name ?? null,
        },
        truth: f.truth,
        change: !f.champion
          ? "unknown"
          : f.champion.incident === (hit !== undefined)
            ? "same"
            : hit
              ? "added"
              : "removed",
      });
    }
  } finally {
    await inf.close();
  }
  return { frames: out, skipped, durationMs: performance.now() - t0 };
}
