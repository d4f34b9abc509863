import { readFileSync } from "node:fs";
import { Agent as HttpsAgent, request } from "node:https";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { KensaError } from "@kensa/contracts";
import { type Static, Type } from "@sinclair/typebox";

/** `tls` in agent.json: whom the agent trusts, and the client certificate it shows, on https:// and mqtts://. */
export const AgentTlsSchema = Type.Object(
  {
    /** PEM file of the CA(s) the hub's and the broker's certificates chain to (a site CA); the system's roots when omitted */
    ca: Type.Optional(Type.String({ minLength: 1 })),
    /** PEM file: this device's client certificate (mutual TLS), with `key` */
    cert: Type.Optional(Type.String({ minLength: 1 })),
    /** PEM file: its private key (keep it 0600) */
    key: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type AgentTlsFiles = Static<typeof AgentTlsSchema>;

/** The PEM bytes for node:tls (`ca`, `cert`, `key`), as MQTT.js and node:https take them. */
export interface AgentTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Reads the configured files at start; throws KENSA_ERR_TLS_FILES naming the key and file. */
export function readAgentTls(files: AgentTlsFiles | undefined): AgentTls | null {
  if (!files || (!files.ca && !files.cert && !files.key)) return null;
  if (!!files.cert !== !!files.key) {
    throw new KensaError("KENSA_ERR_TLS_FILES", "/tls: cert and key go together", { path: "/tls" });
  }
  const read = (key: "ca" | "cert" | "key"): Buffer | undefined => {
    const file = files[key];
    if (!file) return undefined;
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new KensaError(
        "KENSA_ERR_TLS_FILES",
        `/tls/${key}: ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
        {
          path: `/tls/${key}`,
          file,
        },
      );
    }
    if (!bytes.includes("-----BEGIN ")) {
      throw new KensaError("KENSA_ERR_TLS_FILES", `/tls/${key}: ${file} is not PEM (no -----BEGIN line)`, {
        path: `/tls/${key}`,
        file,
      });
    }
    return bytes;
  };
  const ca = read("ca");
  const cert = read("cert");
  const key = read("key");
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A `fetch` whose https:// requests trust `tls.ca` and show `tls.cert`. Node's own fetch takes
 * its TLS settings only from a dispatcher of the undici package, which Node bundles but does not
 * export; this one goes through node:https (keep-alive agent) and hands back a standard
 * Response, streaming both ways. Other URLs go to the global fetch.
 */
export function tlsFetch(tls: AgentTls): typeof fetch {
  const agent = new HttpsAgent({ ...tls, keepAlive: true, minVersion: "TLSv1.2" });
  const tlsFetchImpl = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const req = input instanceof Request ? input : null;
    const url = new URL(req ? req.url : String(input));
    if (url.protocol !== "https:") return fetch(input, init);
    return send(url, { method: req?.method, headers: req?.headers, body: req?.body, ...init }, agent, 0);
  };
  return tlsFetchImpl as typeof fetch;
}

async function send(url: URL, init: RequestInit, agent: HttpsAgent, redirects: number): Promise<Response> {
  const method = (init.method ?? "GET").toUpperCase();
  const stream = init.body instanceof ReadableStream ? init.body : null;
  let headers = new Headers(init.headers);
  let bytes: Buffer | null = null;
  if (init.body != null && !stream) {
    // a Request serialises every other body kind (string, bytes, Blob, FormData, URLSearchParams)
    // and supplies its content type
    const r = new Request(url, { method, body: init.body, headers });
    bytes = Buffer.from(await r.arrayBuffer());
    headers = r.headers;
    headers.set("content-length", String(bytes.length));
  }
  init.signal?.throwIfAborted();
  const res = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
    const r = request(url, {
      method,
      headers: Object.fromEntries(headers),
      agent,
      ...(init.signal ? { signal: init.signal } : {}),
    });
    r.once("response", resolve);
    r.once("error", (err) =>
      reject(init.signal?.aborted ? init.signal.reason : new TypeError("fetch failed", { cause: err })),
    );
    if (stream) Readable.fromWeb(stream as WebReadableStream<Uint8Array>).pipe(r);
    else r.end(bytes ?? undefined);
  });
  const status = res.statusCode ?? 502;
  const location = res.headers.location;
  if (REDIRECTS.has(status) && location && init.redirect !== "manual" && !stream) {
    res.resume();
    if (init.redirect === "error" || redirects >= 20)
      throw new TypeError("fetch failed", { cause: new Error("redirect") });
    const asGet = status === 303 || ((status === 301 || status === 302) && method === "POST");
    const next = new URL(location, url);
    const nextInit: RequestInit = asGet
      ? { ...init, method: "GET", body: null }
      : { ...init, body: bytes as BodyInit | null };
    // credentials go to the origin they were meant for only
    if (next.origin !== url.origin) nextInit.headers = withoutAuthorization(init.headers);
    return next.protocol === "https:" ? send(next, nextInit, agent, redirects + 1) : fetch(next, nextInit);
  }
  const out = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
    out.append(res.rawHeaders[i] ?? "", res.rawHeaders[i + 1] ?? "");
  const empty = method === "HEAD" || status === 204 || status === 304;
  if (empty) res.resume();
  const body = empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText: res.statusMessage ?? "", headers: out });
}

function withoutAuthorization(h: RequestInit["headers"]): Headers {
  const headers = new Headers(h);
  headers.delete("authorization");
  return headers;
}
