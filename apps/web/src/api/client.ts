import { ApiError, KensaClient } from "@kensa/client";

export { ApiError };

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/**
 * The console's client of the hub: same origin, the session cookie, and on writes the header
 * `x-kensa-csrf: 1` (a cross-site form cannot set custom headers, so the hub refuses
 * cookie-authenticated writes without it). Pages call routes of the contracts' tables through
 * it: `hub.call(fleetRoutes.list)`, `hub.url(incidentRoutes.getMedia, { params })`.
 */
export const hub = new KensaClient({
  auth: { kind: "cookie" },
  onUnauthorized: (spec) => {
    if (!spec.path.endsWith("/auth/login")) for (const l of unauthorizedListeners) l();
  },
});

/** Called whenever the hub answers 401 (the session expired or was revoked). */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** A message fit for a toast: the code first, so support can look it up in docs/errors.md. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: "KENSA_ERR_CLIENT", message: err.message };
  return { code: "KENSA_ERR_CLIENT", message: String(err) };
}
