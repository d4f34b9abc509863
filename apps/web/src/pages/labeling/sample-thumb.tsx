import { datasetRoutes, type LabelContent, type Sample } from "@kensa/contracts";
import type { CSSProperties, ReactNode } from "react";
import { Link } from "react-router-dom";
import { hub } from "../../api/client";
import { labelColor } from "./label-colors";

/**
 * A sample's image with its label drawn over it: boxes as SVG in image coordinates, masks as a
 * tinted layer cut out by the mask PNG itself (CSS luminance mask), so a grid of hundreds of
 * thumbnails decodes no mask in script.
 */
export function SampleThumb({
  sample,
  labels,
  content = sample.label?.content ?? null,
  to,
  caption,
}: {
  sample: Sample;
  labels: readonly string[];
  /** what to draw; the sample's current label by default */
  content?: LabelContent | null;
  to: string;
  caption?: ReactNode;
}) {
  const img = sample.image;
  const classes = content?.classes ?? [];
  return (
    <Link to={to} className="ml-thumb" data-testid="sample-thumb" data-sample={sample.id}>
      <span className="ml-thumb-frame" style={img ? { aspectRatio: `${img.width} / ${img.height}` } : undefined}>
        {img ? (
          <>
            <img src={hub.url(datasetRoutes.sampleImage, { params: { id: sample.id } })} alt="" loading="lazy" />
            {content?.objects.map((o, i) =>
              o.mask ? (
                <span
                  // biome-ignore lint/suspicious/noArrayIndexKey: objects have no id; their order is the label's
                  key={`m${i}`}
                  className="ml-thumb-mask"
                  style={
                    {
                      background: labelColor(labels, o.label),
                      maskImage: `url(${hub.url(datasetRoutes.getMask, { params: { sha: o.mask } })})`,
                      WebkitMaskImage: `url(${hub.url(datasetRoutes.getMask, { params: { sha: o.mask } })})`,
                    } as CSSProperties
                  }
                />
              ) : null,
            )}
            <svg viewBox={`0 0 ${img.width} ${img.height}`} preserveAspectRatio="none" aria-hidden="true">
              {content?.objects.map((o, i) =>
                o.box ? (
                  <rect
                    // biome-ignore lint/suspicious/noArrayIndexKey: as above
                    key={`b${i}`}
                    x={o.box.x}
                    y={o.box.y}
                    width={o.box.w}
                    height={o.box.h}
                    fill="none"
                    stroke={labelColor(labels, o.label)}
                    strokeWidth={2}
                    vectorEffect="non-scaling-stroke"
                  />
                ) : null,
              )}
            </svg>
          </>
        ) : (
          <span className="ml-thumb-missing">image not arrived yet</span>
        )}
      </span>
      <span className="ml-thumb-caption">
        {classes.length ? (
          classes.map((c) => (
            <span key={c} className="ml-thumb-class" style={{ borderColor: labelColor(labels, c) }}>
              {c}
            </span>
          ))
        ) : (
          <span className="muted">{sample.status === "unlabeled" ? "unlabeled" : "no class"}</span>
        )}
        {caption}
      </span>
    </Link>
  );
}
