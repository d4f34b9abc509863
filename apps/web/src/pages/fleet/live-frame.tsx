import { fleetRoutes } from "@kensa/contracts";
import { useEffect, useState } from "react";
import { hub } from "../../api/client";

/** ms between frame refreshes: a glance at what the camera sees, not a video stream */
const REFRESH_MS = 2000;

/**
 * The device's latest frame, refreshed. Each new frame is loaded off-screen first and swapped in
 * when complete, so the picture never flashes blank on a slow link.
 */
export function LiveFrame({ deviceId, online }: { deviceId: string; online: boolean }) {
  const [src, setSrc] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [loadedAt, setLoadedAt] = useState<number | null>(null);

  useEffect(() => {
    let live = true;
    const load = () => {
      const url = hub.url(fleetRoutes.getFrame, { params: { id: deviceId }, query: { t: Date.now() } });
      const img = new Image();
      img.onload = () => {
        if (!live) return;
        setSrc(url);
        setMissing(false);
        setLoadedAt(Date.now());
      };
      img.onerror = () => live && setMissing(true);
      img.src = url;
    };
    load();
    const t = setInterval(() => document.visibilityState === "visible" && load(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [deviceId]);

  if (!src) {
    return (
      <div className="frame-missing">
        {missing ? (online ? "No frame received yet." : "The device is offline; no frame yet.") : "Loading frame…"}
      </div>
    );
  }
  return (
    <figure className="frame">
      <div className="frame-box">
        <img src={src} alt={`Latest frame from ${deviceId}`} data-testid="live-frame" />
      </div>
      <figcaption className="frame-caption muted">
        {missing ? "The latest frame could not be loaded; showing the previous one." : "Refreshed every 2 s"}
        {loadedAt ? ` · ${new Date(loadedAt).toLocaleTimeString()}` : null}
      </figcaption>
    </figure>
  );
}
