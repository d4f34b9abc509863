import { HubStats, PROTOCOL_VERSION } from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { HubServices } from "../hub-services.js";

const Health = Type.Object({
  status: Type.Literal("ok"),
  protocol: Type.Integer(),
  mqtt: Type.Union([Type.Literal("connected"), Type.Literal("disconnected")]),
});

export function systemRoutes(app: FastifyInstance, s: HubServices): void {
  app.get("/api/v1/stats", { schema: { response: { 200: HubStats } } }, async () => s.stats.get());

  app.get("/health", { schema: { response: { 200: Health } }, config: { auth: "public" } }, async () => ({
    status: "ok" as const,
    protocol: PROTOCOL_VERSION,
    mqtt: s.mqttConnected() ? ("connected" as const) : ("disconnected" as const),
  }));

  // Placeholder until the web console is served from here; shows the loop is alive.
  app.get("/", { config: { auth: "public" } }, async (_req, reply) => {
    const stats = await s.stats.get();
    const projects = await s.stats.projectCount();
    const rows: Array<[string, number]> = [
      ["projects", projects],
      ["devices", stats.devices.total],
      ["devices online", stats.devices.online],
      ["events", stats.events],
      ["incidents", stats.incidents],
      ["verdicts", stats.verdicts],
      ["notifications sent", stats.notifications.sent],
    ];
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kensa hub</title>
<style>body{font:16px system-ui,sans-serif;margin:3rem auto;max-width:36rem;color:#222}td{padding:.2rem 1rem .2rem 0}</style>
</head><body>
<h1>Kensa hub — console coming</h1>
<p>The hub is running. The web console is not built yet; the API is at <code>/api/v1</code>.</p>
<table>${rows.map(([k, v]) => `<tr><td>${k}</td><td><b>${v}</b></td></tr>`).join("")}</table>
</body></html>
`;
    return reply.type("text/html; charset=utf-8").send(html);
  });

  // Notification links point here; the console will own this path. Public, so it shows no data.
  app.get<{ Params: { id: string } }>(
    "/incidents/:id",
    {
      schema: { params: Type.Object({ id: Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" }) }) },
      config: { auth: "public" },
    },
    async (req, reply) =>
      reply.type("text/html; charset=utf-8").send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kensa incident ${req.params.id}</title></head><body>
<h1>Incident ${req.params.id}</h1>
<p>Kensa hub — console coming. Until then: <code>GET /api/v1/incidents/${req.params.id}</code> with the admin token.</p>
</body></html>
`),
  );
}
