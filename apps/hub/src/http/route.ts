import type { BodyOf, ParamsOf, QueryOf, ReplyOf, RouteSpec } from "@kensa/contracts";
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from "fastify";

/** The request a route's handler receives, typed from its spec. */
export type RouteRequest<R extends RouteSpec> = FastifyRequest<{
  Params: ParamsOf<R>;
  Querystring: QueryOf<R>;
  Body: BodyOf<R>;
}>;

/**
 * A route's handler: answers the spec's reply (sent with the spec's status), or sends something
 * else itself through `reply` (a stream, bytes, an event stream) and returns the reply.
 */
export type RouteHandler<R extends RouteSpec> = (
  req: RouteRequest<R>,
  reply: FastifyReply,
) => Promise<Answer<R>> | Answer<R>;

/** a route without a reply (204) may answer nothing */
type Answer<R extends RouteSpec> = ReplyOf<R> | FastifyReply | (undefined extends ReplyOf<R> ? void : never);

export interface RouteOptions {
  /** bytes; for routes whose body limit is not the app's */
  bodyLimit?: number;
}

/**
 * Registers one route from its contract: method, path, schemas, status and access all come
 * from the spec; the hub writes only what the route does.
 */
export function route<R extends RouteSpec>(
  app: FastifyInstance,
  spec: R,
  handler: RouteHandler<R>,
  options: RouteOptions = {},
): void {
  const status = spec.status ?? 200;
  // summary is for the API reference; Fastify ignores keys of the schema it does not validate
  const schema: FastifySchema & { summary: string } = { summary: spec.summary };
  if (spec.params) schema.params = spec.params;
  if (spec.query) schema.querystring = spec.query;
  if (spec.body) schema.body = spec.body;
  if (spec.reply) schema.response = { [status]: spec.reply };
  app.route({
    method: spec.method,
    url: spec.path,
    schema,
    config: { auth: spec.auth ?? "user", ...(spec.permission ? { permission: spec.permission } : {}) },
    ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
    handler: async (req, reply) => {
      reply.code(status);
      const out = await handler(req as RouteRequest<R>, reply);
      // a returned reply is a thenable and resolves to undefined once the response is over (or
      // the client went away mid-stream): headers already out means there is nothing to send
      if (out === reply || reply.sent || reply.raw.headersSent) return reply;
      if (out === undefined) return reply.send();
      return out;
    },
  });
}
