/** The console's session cookie. */
export const SESSION_COOKIE = "kensa_session";

/** The value of cookie `name` in a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string = SESSION_COOKIE): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value.length > 0 ? value : null;
  }
  return null;
}

/**
 * HttpOnly so page scripts cannot read it; SameSite=Strict so no other site's page makes the
 * browser send it; Secure when the hub is reached over https.
 */
export function sessionCookie(token: string, opts: { secure: boolean; maxAgeSec: number }): string {
  return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.max(0, Math.floor(opts.maxAgeSec))}${opts.secure ? "; Secure" : ""}`;
}

/** Tells the browser to drop the session cookie. */
export function clearedSessionCookie(opts: { secure: boolean }): string {
  return sessionCookie("", { secure: opts.secure, maxAgeSec: 0 });
}
