import { type IncidentClip as Clip, type Incident, incidentRoutes } from "@kensa/contracts";
import { hub } from "../../api/client";
import { Card } from "../../ui";

/**
 * The device's video around the incident frame. H.264 MP4 plays in the page (the hub serves
 * byte ranges, so seeking works); an MJPEG AVI — written by devices whose ffmpeg lacks an
 * H.264 encoder — is offered as a download, since browsers do not play it.
 */
export function IncidentClip({ incident, clip }: { incident: Incident; clip: Clip }) {
  // the sha in the URL makes the browser fetch a replaced clip instead of its cached one
  const src = hub.url(incidentRoutes.getClip, { params: { id: incident.id }, query: { v: clip.sha256 } });
  const facts = [
    clip.durationMs !== null ? `${(clip.durationMs / 1000).toFixed(1)} s` : null,
    `${(clip.size / (1024 * 1024)).toFixed(1)} MB`,
  ]
    .filter(Boolean)
    .join(" · ");
  return (
    <Card title="Clip">
      {clip.contentType === "video/mp4" ? (
        // biome-ignore lint/a11y/useMediaCaption: camera footage has no speech to caption
        <video className="incident-clip" src={src} controls preload="metadata" aria-label="Clip around the incident" />
      ) : (
        <p>
          This device records clips as MJPEG, which browsers do not play.{" "}
          <a href={src} download={`${incident.id}.avi`}>
            Download the clip
          </a>
        </p>
      )}
      <p className="muted frame-caption">{facts}</p>
    </Card>
  );
}
