import { ApiError, KensaClient } from "@kensa/client";
import type { ErrorReply } from "@kensa/contracts";

export { ApiError };

/**
 * The console's client of the hub: same origin, the session cookie, and the CSRF header on
 * writes. Pages call routes of the contracts' tables through it (`hub.call(fleetRoutes.list)`).
 */
export const hub = new KensaClient({
  auth: { kind: "cookie" },
  onUnauthorized: (spec) => {
    if (!spec.path.endsWith("/auth/login")) for (const l of unauthorizedListeners) l();
  },
});

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** sent as JSON unless it is FormData (multipart uploads) */
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
}

const API_PREFIX = "/api/v1";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Builds a same-origin API URL (`/api/v1/...?q=`) for fetch, <img src> or EventSource. */
export function apiUrl(path: string, query?: Query): string {
  const url = `${API_PREFIX}${path.startsWith("/") ? path : `/${path}`}`;
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${url}?${qs}` : url;
}

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called whenever the hub answers 401 (the session expired or was revoked). */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/**
 * Calls the hub with the session cookie. Unsafe methods carry `x-kensa-csrf: 1`: a cross-site
 * form cannot set custom headers, so the hub refuses cookie-authenticated writes without it.
 */
export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (!SAFE_METHODS.has(method)) headers["x-kensa-csrf"] = "1";
  let body: BodyInit | undefined;
  if (opts.body instanceof FormData) body = opts.body;
  else if (opts.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(apiUrl(path, opts.query), { method, headers, body, credentials: "include", signal: opts.signal });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError("KENSA_ERR_NETWORK", "The hub cannot be reached", 0);
  }
  if (res.status === 401 && !path.startsWith("/auth/login")) for (const l of unauthorizedListeners) l();
  if (!res.ok) throw await toApiError(res);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get("content-type") ?? "";
  return (type.includes("json") ? await res.json() : await res.text()) as T;
}

async function toApiError(res: Response): Promise<ApiError> {
  try {
    const reply = (await res.json()) as Partial<ErrorReply>;
    if (reply.error?.code) return new ApiError(reply.error.code, reply.error.message, res.status, reply.error.details);
  } catch {
    // not JSON (a proxy's error page): fall through to a generic error
  }
  return new ApiError(`HTTP_${res.status}`, res.statusText || `HTTP ${res.status}`, res.status);
}

/** Shorthands; every call goes through `request`. */
export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>(path, { query, signal }),
  post: <T>(path: string, body?: unknown) => request<T>(path, { method: "POST", body: body ?? {} }),
  patch: <T>(path: string, body: unknown) => request<T>(path, { method: "PATCH", body }),
  put: <T>(path: string, body: unknown) => request<T>(path, { method: "PUT", body }),
  delete: <T>(path: string) => request<T>(path, { method: "DELETE" }),
};

/** A message fit for a toast: the code first, so support can look it up in docs/errors.md. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: "KENSA_ERR_CLIENT", message: err.message };
  return { code: "KENSA_ERR_CLIENT", message: String(err) };
}
