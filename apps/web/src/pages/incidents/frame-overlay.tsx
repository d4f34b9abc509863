import type { Box, InferenceResult } from "@kensa/contracts";
import { useState } from "react";
import { pct } from "./incident-status";

interface Shape {
  kind: "detection" | "region";
  label: string;
  score: number;
  box: Box;
  /** a region's outer boundary, when the agent sent it: drawn instead of the box */
  outline?: Array<[number, number]>;
}

/** Boxes to draw for a result: detections, and the regions of segmentation and anomaly maps. */
export function shapesOf(result: InferenceResult | undefined): Shape[] {
  if (!result) return [];
  switch (result.task) {
    case "detection":
      return result.detections.map((d) => ({ kind: "detection", label: d.label, score: d.score, box: d.box }));
    case "segmentation":
    case "anomaly":
      return result.regions.map((r) => ({
        kind: "region",
        label: r.label,
        score: r.score,
        box: r.box,
        ...(r.outline && r.outline.length >= 3 ? { outline: r.outline } : {}),
      }));
    case "classification":
      return [];
  }
}

const palette = ["#ef4444", "#f59e0b", "#22c55e", "#3b82f6", "#a855f7", "#ec4899"];

/**
 * The frame with its findings drawn over it: detection boxes, and segmentation or anomaly
 * regions by their outline (their box when an older agent sent none). Shapes are in pixels of the original frame, so the
 * SVG's viewBox is the image's natural size and the browser scales both together; strokes use
 * non-scaling-stroke so they stay readable on a phone and a 4K monitor alike.
 */
export function FrameOverlay({ src, result, alt }: { src: string; result?: InferenceResult; alt: string }) {
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  const [failed, setFailed] = useState(false);
  const [showShapes, setShowShapes] = useState(true);
  const shapes = shapesOf(result);
  const labels = [...new Set(shapes.map((s) => s.label))];
  const color = (label: string) => palette[labels.indexOf(label) % palette.length]!;
  if (failed) return <div className="frame-missing">The frame is not available (yet).</div>;
  const font = size ? Math.max(10, Math.round(Math.max(size.w, size.h) / 32)) : 12;
  return (
    <figure className="frame">
      <div className="frame-box">
        <img
          src={src}
          alt={alt}
          onLoad={(e) => setSize({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })}
          onError={() => setFailed(true)}
        />
        {size && showShapes && shapes.length > 0 ? (
          <svg
            className="frame-overlay"
            viewBox={`0 0 ${size.w} ${size.h}`}
            preserveAspectRatio="none"
            role="img"
            aria-label={`${shapes.length} finding${shapes.length === 1 ? "" : "s"} marked on the frame`}
            data-testid="frame-overlay"
          >
            {shapes.map((s, i) => {
              const [x, y, w, h] = s.box;
              const c = color(s.label);
              const text = `${s.label} ${pct(s.score)}`;
              // keep the caption inside the picture for boxes at its right edge (≈0.6 em per glyph)
              const tx = Math.max(0, Math.min(x, size.w - font * 0.6 * text.length));
              return (
                // biome-ignore lint/suspicious/noArrayIndexKey: shapes have no identity beyond their position
                <g key={i}>
                  {s.outline ? (
                    <polygon
                      points={s.outline.map(([px, py]) => `${px},${py}`).join(" ")}
                      fill={c}
                      fillOpacity={0.35}
                      stroke={c}
                      strokeWidth={2}
                      strokeLinejoin="round"
                      vectorEffect="non-scaling-stroke"
                    />
                  ) : (
                    <rect
                      x={x}
                      y={y}
                      width={w}
                      height={h}
                      fill={s.kind === "region" ? c : "none"}
                      fillOpacity={s.kind === "region" ? 0.25 : 0}
                      stroke={c}
                      strokeWidth={2}
                      strokeDasharray={s.kind === "region" ? "6 3" : undefined}
                      vectorEffect="non-scaling-stroke"
                    />
                  )}
                  <text
                    x={tx}
                    y={Math.max(font, y - 3)}
                    fontSize={font}
                    fill="#fff"
                    stroke="#000"
                    strokeWidth={3}
                    paintOrder="stroke"
                    fontWeight={700}
                  >
                    {text}
                  </text>
                </g>
              );
            })}
          </svg>
        ) : null}
      </div>
      {shapes.length > 0 ? (
        <figcaption className="frame-caption">
          <label className="check">
            <input type="checkbox" checked={showShapes} onChange={(e) => setShowShapes(e.target.checked)} />
            Show {shapes.length} finding{shapes.length === 1 ? "" : "s"}
          </label>
          {labels.map((l) => (
            <span key={l} className="legend">
              <span className="swatch" style={{ background: color(l) }} aria-hidden="true" />
              {l}
            </span>
          ))}
        </figcaption>
      ) : null}
    </figure>
  );
}
