import { CSRF_HEADER } from "@kensa/contracts";
/** How a client proves who it is to the hub. */
export type ClientAuth =
  /** a person's API token or the bootstrap admin token (CLI, scripts) */
  | { kind: "bearer"; token: string }
  /** the browser's session cookie; writes carry the CSRF header a cross-site form cannot set */
  | { kind: "cookie" }
  /** a device's id and secret (HTTP Basic), as the agent uploads media */
  | { kind: "device"; deviceId: string; secret: string }
  | { kind: "none" };

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Headers (and fetch credentials) that carry `auth` on a request of `method`. */
export function authHeaders(
  auth: ClientAuth,
  method: string,
): { headers: Record<string, string>; credentials?: "include" } {
  switch (auth.kind) {
    case "bearer":
      return { headers: { authorization: `Bearer ${auth.token}` } };
    case "device": {
      // UTF-8 bytes, base64: btoa alone takes Latin-1 only
      const basic = btoa(String.fromCharCode(...new TextEncoder().encode(`${auth.deviceId}:${auth.secret}`)));
      return { headers: { authorization: `Basic ${basic}` } };
    }
    case "cookie":
      return { headers: SAFE_METHODS.has(method) ? {} : { [CSRF_HEADER]: "1" }, credentials: "include" };
    case "none":
      return { headers: {} };
  }
}
