import type { InferenceResult } from "@kensa/contracts";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { annotateFrame, annotationOf, overlaySvg } from "../src/status/annotate.js";

const rects = (svg: string) => [...svg.matchAll(/<rect [^>]*\/>/g)].map((m) => m[0]);

describe("the latest frame's overlay", () => {
  it("shows a classification result as a caption badge, not as a box around the whole frame", () => {
    const result: InferenceResult = {
      task: "classification",
      label: "defect",
      score: 1,
      scores: { defect: 1, ok: 0 },
      finding: true,
    };
    const a = annotationOf(result);
    expect(a.boxes).toEqual([]);
    const svg = overlaySvg(640, 480, a);
    // the only rectangle is the filled caption badge in the top-left corner
    const all = rects(svg);
    expect(all).toHaveLength(1);
    expect(all[0]).toContain('fill="#e5484d"');
    expect(all[0]).not.toContain('width="640"');
    expect(svg).toContain(a.text);
  });

  it("draws each detection's own box with its label", () => {
    const a = {
      text: "scratch 0.91",
      finding: true,
      boxes: [{ x: 10, y: 20, width: 30, height: 40, label: "scratch", score: 0.91 }],
    };
    const svg = overlaySvg(640, 480, a);
    const outlines = rects(svg).filter((r) => r.includes('fill="none"'));
    expect(outlines).toEqual([expect.stringContaining('x="10" y="20" width="30" height="40"')]);
    expect(svg).toContain("scratch 0.91");
  });

  it("composites onto a real JPEG and leaves the frame's edges as they were", async () => {
    const frame = await sharp({ create: { width: 200, height: 100, channels: 3, background: "#404040" } })
      .jpeg()
      .toBuffer();
    const out = await annotateFrame(frame, { text: "defect 1.00", finding: true, boxes: [] });
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    // bottom-right pixel: no border drawn there
    const i = (info.height - 1) * info.width * info.channels + (info.width - 1) * info.channels;
    expect(Math.abs(data[i]! - 0x40)).toBeLessThan(12);
  });
});
