import type { Static, TObject, TSchema } from "@sinclair/typebox";
import type { ErrorCode } from "./errors.js";
import type { Permission } from "./permissions.js";

/**
 * One HTTP route of the hub, declared once: the hub registers it from this, the typed client
 * calls it from this, and the OpenAPI document is generated from this. A path written by hand
 * anywhere else is a defect waiting to happen.
 */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * The header a write authenticated by the session cookie must carry (value "1"): a cross-site
 * form cannot set custom headers, so the hub refuses cookie writes without it.
 */
export const CSRF_HEADER = "x-kensa-csrf";

/** Which credentials a route takes: people (session cookie or API token), devices (Basic), either, or none. */
export type RouteAuth = "user" | "device" | "user-or-device" | "public";

/** What a person needs to call a route: a permission, or just to be signed in. */
export type RouteAccess = Permission | "authenticated";

/** A request body that is not JSON. */
export type RouteUpload =
  /**
   * the raw bytes of one of these content types (a frame, a clip, an archive); `stream` when the
   * hub reads the body as it arrives (archives of gigabytes) rather than as one buffer
   */
  | { kind: "bytes"; types: readonly string[]; stream?: boolean }
  /** multipart/form-data with these text fields and files */
  | { kind: "multipart"; fields: readonly string[]; files: readonly string[] };

/** A reply that is not JSON. */
export type RouteProduces =
  /** bytes of one of these content types (a frame, a model, an archive) */
  | { kind: "bytes"; types: readonly string[] }
  /** plain text or Markdown */
  | { kind: "text"; types: readonly string[] }
  /** Server-Sent Events; `event` names the schema of each event's data */
  | { kind: "sse"; event?: TSchema };

export interface RouteSpec {
  method: HttpMethod;
  /** the full path with Fastify-style parameters: `/api/v1/projects/:id` */
  path: string;
  /** one line for the API reference */
  summary: string;
  /** default "user" */
  auth?: RouteAuth;
  /** required of people; a route for people without one is admin-only */
  permission?: RouteAccess;
  params?: TObject;
  query?: TObject;
  /** a JSON body */
  body?: TSchema;
  upload?: RouteUpload;
  /** the status of success; 200 unless given */
  status?: number;
  /** the JSON reply on success */
  reply?: TSchema;
  produces?: RouteProduces;
  /** the error codes this route answers with, beyond validation and authentication */
  errors?: readonly ErrorCode[];
}

/** A domain's routes by name: `projectRoutes.get`, `fleetRoutes.enroll`. */
export type RouteTable = Readonly<Record<string, RouteSpec>>;

/** Declares a domain's route table, keeping each route's literal types for the hub and the client. */
export function defineRoutes<const T extends Record<string, RouteSpec>>(table: T): T {
  return table;
}

type StaticOf<S> = S extends TSchema ? Static<S> : never;

/** The path parameters of a route, or an empty object. */
export type ParamsOf<R extends RouteSpec> = R["params"] extends TObject ? Static<R["params"]> : Record<string, never>;
/** The query of a route, or an empty object. */
export type QueryOf<R extends RouteSpec> = R["query"] extends TObject ? Static<R["query"]> : Record<string, never>;
/** The JSON body of a route, the bytes of a byte upload (a stream the handler reads itself), or undefined. */
export type BodyOf<R extends RouteSpec> = R["body"] extends TSchema
  ? Static<R["body"]>
  : R["upload"] extends { kind: "bytes"; stream: true }
    ? unknown
    : R["upload"] extends { kind: "bytes" }
      ? Uint8Array
      : undefined;
/** What a successful call answers: the JSON reply, text, bytes, or nothing. */
export type ReplyOf<R extends RouteSpec> = R["reply"] extends TSchema
  ? StaticOf<R["reply"]>
  : R["produces"] extends { kind: "text" }
    ? string
    : R["produces"] extends { kind: "bytes" }
      ? Uint8Array
      : undefined;

/** Fills a route's path parameters: `/api/v1/projects/:id` with `{ id: "p 1" }` → `/api/v1/projects/p%201`. */
export function routePath(path: string, params: Readonly<Record<string, string | number>> = {}): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`route ${path}: missing path parameter ${name}`);
    return encodeURIComponent(String(v));
  });
}

/**
 * A query string (with its `?`) from defined values; arrays repeat their key. An empty string is
 * a value (`k=`), not an absence: `--mask-suffix ''` means "the mask has the image's stem", and
 * dropping it turned it into the default `_mask` (mask PNGs were then imported as images).
 */
export function queryString(query: Readonly<Record<string, unknown>> | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, String(item));
    else params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `?${qs}` : "";
}
