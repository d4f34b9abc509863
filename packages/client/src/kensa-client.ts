import {
  type BodyOf,
  type ErrorReply,
  type ParamsOf,
  type QueryOf,
  queryString,
  type ReplyOf,
  type RouteSpec,
  type RouteUpload,
  routePath,
} from "@kensa/contracts";
import type { TObject, TSchema } from "@sinclair/typebox";
import { ApiError } from "./api-error.js";
import { authHeaders, type ClientAuth } from "./client-auth.js";

/** What an upload route takes as its body. */
export type UploadBody = Blob | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array> | FormData;

/** The input of a call, typed from the route: its path parameters, query, JSON body or upload. */
export type CallInput<R extends RouteSpec> = (R["params"] extends TObject
  ? { params: ParamsOf<R> }
  : { params?: undefined }) &
  (R["query"] extends TObject ? { query?: Partial<QueryOf<R>> } : { query?: undefined }) &
  (R["body"] extends TSchema ? { body: BodyOf<R> } : { body?: undefined }) &
  (R["upload"] extends RouteUpload ? { upload: UploadBody; contentType?: string } : { upload?: undefined }) & {
    signal?: AbortSignal;
    headers?: Record<string, string>;
  };

export interface KensaClientOptions {
  /** the hub's address (`http://127.0.0.1:8080`); "" for the same origin (the console) */
  baseUrl?: string;
  auth: ClientAuth;
  /** another fetch (tests, a proxy agent) */
  fetch?: typeof fetch;
  /** called whenever the hub answers 401 (a session that expired or was revoked) */
  onUnauthorized?: (spec: RouteSpec) => void;
}

/** The one typed client of the hub: every call is a route of a contract's table. */
export class KensaClient {
  readonly baseUrl: string;
  #auth: ClientAuth;
  #fetch: typeof fetch;
  #onUnauthorized: ((spec: RouteSpec) => void) | undefined;

  constructor(opts: KensaClientOptions) {
    this.baseUrl = (opts.baseUrl ?? "").replace(/\/+$/, "");
    this.#auth = opts.auth;
    this.#fetch = opts.fetch ?? ((input, init) => fetch(input, init));
    this.#onUnauthorized = opts.onUnauthorized;
  }

  /** The URL of a route, for `<img src>`, EventSource or a download link. */
  url<R extends RouteSpec>(
    spec: R,
    input: { params?: ParamsOf<R>; query?: Partial<QueryOf<R>> | Record<string, unknown> } = {},
  ): string {
    return `${this.baseUrl}${routePath(spec.path, input.params as Record<string, string>)}${queryString(input.query as Record<string, unknown>)}`;
  }

  /** Calls a route and answers its reply: JSON, text, bytes, or undefined. Throws ApiError. */
  async call<R extends RouteSpec>(spec: R, input?: CallInput<R>): Promise<ReplyOf<R>> {
    const res = await this.fetch(spec, input);
    if (res.status === 204 || (!spec.reply && !spec.produces)) {
      await res.body?.cancel();
      return undefined as ReplyOf<R>;
    }
    if (spec.produces?.kind === "bytes") return new Uint8Array(await res.arrayBuffer()) as ReplyOf<R>;
    const text = await res.text();
    if (spec.produces?.kind === "text" || !spec.reply) return text as ReplyOf<R>;
    return (text ? JSON.parse(text) : undefined) as ReplyOf<R>;
  }

  /** Calls a route and answers the raw response once it succeeded (streams, downloads). Throws ApiError. */
  async fetch<R extends RouteSpec>(spec: R, input?: CallInput<R>): Promise<Response> {
    const i = (input ?? {}) as CallInput<R> & {
      params?: Record<string, string>;
      query?: Record<string, unknown>;
      body?: unknown;
      upload?: UploadBody;
      contentType?: string;
    };
    const auth = authHeaders(this.#auth, spec.method);
    const headers: Record<string, string> = { accept: "application/json", ...auth.headers, ...i.headers };
    const init: RequestInit & { duplex?: "half" } = { method: spec.method, headers };
    if (auth.credentials) init.credentials = auth.credentials;
    if (i.signal) init.signal = i.signal;
    if (i.upload !== undefined) {
      init.body = i.upload as BodyInit;
      if (i.upload instanceof ReadableStream) init.duplex = "half"; // Node's fetch needs it for stream bodies
      if (i.contentType) headers["content-type"] = i.contentType;
    } else if (i.body !== undefined) {
      init.body = JSON.stringify(i.body);
      headers["content-type"] = "application/json";
    } else if (spec.body) {
      // a route whose body is all optional: send an empty object rather than no body
      init.body = "{}";
      headers["content-type"] = "application/json";
    }
    const url = this.url(spec, { params: i.params as ParamsOf<R>, query: i.query });
    let res: Response;
    try {
      res = await this.#fetch(url, init);
    } catch (err) {
      if (err instanceof Error && err.name === "AbortError") throw err;
      const where = this.baseUrl || "the hub";
      throw new ApiError("KENSA_ERR_NETWORK", `cannot reach ${where}: ${(err as Error).message}`, 0);
    }
    if (res.status === 401) this.#onUnauthorized?.(spec);
    if (!res.ok) throw await toApiError(res, spec);
    return res;
  }
}

async function toApiError(res: Response, spec: RouteSpec): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const reply = JSON.parse(text) as Partial<ErrorReply>;
    if (reply.error?.code) return new ApiError(reply.error.code, reply.error.message, res.status, reply.error.details);
  } catch {
    // not JSON (a proxy's error page): a generic error below
  }
  return new ApiError(
    `HTTP_${res.status}`,
    `${spec.method} ${spec.path} → HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`,
    res.status,
  );
}
