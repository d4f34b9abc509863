import type { SampleWithHistory, SiteSample } from "@kensa/contracts";
import sharp from "sharp";

let shade = 0;
/** a distinct 32×24 JPEG each call (the sample's image identifies it across hubs) */
export const image = () =>
  sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 10 + shade++ * 7, g: 90, b: 40 } } })
    .jpeg()
    .toBuffer();

/** a 32×24 mask PNG with an 8×8 square at column `x0` */
export const maskPng = (x0: number) => {
  const px = Buffer.alloc(32 * 24);
  for (let y = 4; y < 12; y++) px.fill(255, y * 32 + x0, y * 32 + x0 + 8);
  return sharp(px, { raw: { width: 32, height: 24, channels: 1 } })
    .png()
    .toBuffer();
};

/** a site's uploaded, labelled sample as the site pushes it to central */
export function siteSampleOf(s: SampleWithHistory, projectSlug: string): SiteSample {
  const l = s.label!;
  return {
    id: s.id,
    projectSlug,
    image: s.image!,
    siteSource: s.provenance.source,
    deviceId: null,
    incidentId: null,
    eventId: null,
    reason: null,
    capturedAt: null,
    prediction: null,
    groupKey: null,
    createdAt: s.createdAt,
    label: {
      revisionId: l.id,
      rev: l.rev,
      status: l.status,
      content: l.content,
      by: l.by,
      source: l.source,
      verdictId: null,
      createdAt: l.createdAt,
    },
  };
}
