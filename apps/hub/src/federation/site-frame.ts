import type { Incident } from "@kensa/contracts";
import { sniffImage } from "@kensa/vision";
import type { BlobStore } from "../blobstore/blob-store.js";

/**
 * The frame of a site hub's incident on central. Central has no event row for it (only the
 * incident travels), so the frame is found by the incident's hash and typed by its bytes, which
 * central checked to be a JPEG or PNG when the site pushed it. Null for central's own incidents.
 */
export async function siteFrameOf(
  incident: Pick<Incident, "site" | "mediaSha256">,
  blobs: BlobStore,
): Promise<{ bytes: Uint8Array; contentType: string } | null> {
  if (!incident.site || !incident.mediaSha256) return null;
  const bytes = await blobs.get(incident.mediaSha256);
  const contentType = bytes ? sniffImage(bytes) : null;
  return bytes && contentType ? { bytes, contentType } : null;
}
