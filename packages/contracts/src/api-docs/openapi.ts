import { allRoutes } from "../api.js";
import { ErrorReply } from "../common.js";
import { errorCatalog } from "../errors.js";
import type { RouteSpec } from "../route.js";
import { jsonSchema } from "./json-schema.js";

type Json = Record<string, unknown>;

const binary = { type: "string", contentMediaType: "application/octet-stream" };

/** `/api/v1/projects/:id` → `/api/v1/projects/{id}` */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

function parameters(spec: RouteSpec): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [
    ["path", spec.params],
    ["query", spec.query],
  ] as const) {
    if (!schema) continue;
    const s = jsonSchema(schema) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, prop] of Object.entries(s.properties ?? {})) {
      const { description, ...rest } = prop as Json & { description?: string };
      out.push({
        name,
        in: where,
        required: where === "path" || (s.required ?? []).includes(name),
        schema: rest,
        ...(description ? { description } : {}),
      });
    }
  }
  return out;
}

function requestBody(spec: RouteSpec): Json | undefined {
  if (spec.body) return { required: true, content: { "application/json": { schema: jsonSchema(spec.body) } } };
  if (spec.upload?.kind === "bytes") {
    return { required: true, content: Object.fromEntries(spec.upload.types.map((t) => [t, { schema: binary }])) };
  }
  if (spec.upload?.kind === "multipart") {
    const properties: Record<string, Json> = {};
    for (const f of spec.upload.fields) properties[f] = { type: "string" };
    for (const f of spec.upload.files) properties[f] = binary;
    return {
      required: true,
      content: { "multipart/form-data": { schema: { type: "object", properties } } },
    };
  }
  return undefined;
}

function success(spec: RouteSpec): Json {
  const status = String(spec.status ?? 200);
  const description = spec.summary;
  if (spec.reply)
    return { [status]: { description, content: { "application/json": { schema: jsonSchema(spec.reply) } } } };
  const p = spec.produces;
  if (p?.kind === "bytes")
    return { [status]: { description, content: Object.fromEntries(p.types.map((t) => [t, { schema: binary }])) } };
  if (p?.kind === "text")
    return {
      [status]: { description, content: Object.fromEntries(p.types.map((t) => [t, { schema: { type: "string" } }])) },
    };
  if (p?.kind === "sse") {
    return {
      [status]: {
        description: `${description} (Server-Sent Events)`,
        content: {
          "text/event-stream": {
            schema: p.event ? { type: "string", "x-event": jsonSchema(p.event) } : { type: "string" },
          },
        },
      },
    };
  }
  return { [status]: { description } };
}

/** The error replies of a route: its declared codes by status, plus what every route may answer. */
function failures(spec: RouteSpec): Json {
  const codes = new Set<keyof typeof errorCatalog>(spec.errors ?? []);
  if (spec.params || spec.query || spec.body) codes.add("KENSA_ERR_VALIDATION");
  if (spec.auth !== "public") {
    codes.add("KENSA_ERR_UNAUTHORIZED");
    codes.add("KENSA_ERR_FORBIDDEN");
  }
  const byStatus = new Map<number, string[]>();
  for (const code of codes) {
    const status = errorCatalog[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Json = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: list.sort().join(", "),
      content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorReply" } } },
    };
  }
  return out;
}

function security(spec: RouteSpec): Json[] {
  switch (spec.auth ?? "user") {
    case "public":
      return [];
    case "device":
      return [{ deviceBasic: [] }];
    case "user-or-device":
      return [{ bearer: [] }, { session: [] }, { deviceBasic: [] }];
    default:
      return [{ bearer: [] }, { session: [] }];
  }
}

/** The hub's HTTP API as an OpenAPI 3.1 document, generated from the route tables. */
export function openApiDocument(opts: { version: string; serverUrl?: string }): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const { domain, name, spec } of allRoutes()) {
    const path = openApiPath(spec.path);
    const params = parameters(spec);
    const body = requestBody(spec);
    paths[path] ??= {};
    paths[path][spec.method.toLowerCase()] = {
      operationId: `${domain}.${name}`,
      summary: spec.summary,
      tags: [domain],
      ...(params.length ? { parameters: params } : {}),
      ...(body ? { requestBody: body } : {}),
      responses: { ...success(spec), ...failures(spec) },
      security: security(spec),
      ...(spec.permission ? { "x-kensa-permission": spec.permission } : {}),
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Kensa hub API",
      version: opts.version,
      description:
        "The hub's HTTP API. People authenticate with an API token (Bearer) or the console's session cookie (writes then carry the header x-kensa-csrf: 1); devices with HTTP Basic (device id and secret). Every error answers { error: { code, message } } with a stable code of docs/errors.md.",
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    tags: [...new Set(allRoutes().map((r) => r.domain))].map((name) => ({ name })),
    paths,
    components: {
      schemas: { ErrorReply: jsonSchema(ErrorReply) },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "an API token, or the hub's admin token" },
        session: { type: "apiKey", in: "cookie", name: "kensa_session", description: "the console's session" },
        deviceBasic: { type: "http", scheme: "basic", description: "device id and device secret" },
      },
    },
  };
}
