import type { Frame, FrameSource, RestartInfo } from "../../src/sources/frame-source.js";

/** Records what a source emits: frames, restarts (with their errors), stalls and reconnects. */
export function watchSource(source: FrameSource) {
  const w = { frames: [] as Frame[], restarts: [] as RestartInfo[], stalled: 0, reconnected: 0 };
  source.on("frame", (f) => w.frames.push(f));
  source.on("restart", (r) => w.restarts.push(r));
  source.on("stalled", () => w.stalled++);
  source.on("reconnected", () => w.reconnected++);
  return w;
}
